// Regenerates frames-node.json with Node.js (not needed by the tests):
//   node testdata/gen/frames-node.js > testdata/frames-node.json
//
// Upstream writes every frame with JSON.stringify, and turns terminal bytes
// into text with a WHATWG TextDecoder (streaming, so a BOM after the first
// byte is kept). For every input (bytes, as hex) this records the output
// and input frames JSON.stringify writes for that text. Generated with
// Node v20.
const cases = [];
const add = (name, bytes) => cases.push({ name, hex: Buffer.from(bytes).toString('hex') });
for (let c = 0; c < 0x20; c++) add('control 0x' + c.toString(16).padStart(2, '0'), [0x61, c, 0x62]);
add('all controls in a row', Array.from({ length: 32 }, (_, i) => i));
add('DEL', [0x7f]);
add('quote', Buffer.from('say "hi"'));
add('backslash', Buffer.from('C:\\dir\\'));
add('slash and HTML', Buffer.from('</script><&>\''));
add('U+2028 and U+2029', Buffer.from('a\u2028b\u2029c'));
add('BOM mid-stream', Buffer.from('a\ufeffb'));
add('non-ASCII', Buffer.from('déc. € 😀 \u{10ffff}'));
add('lone continuation', [0x61, 0x80, 0x62]);
add('C0 and C1 leads', [0xc0, 0xaf, 0xc1, 0xbf]);
add('F5..FF', [0xf5, 0xfe, 0xff]);
add('overlong', [0xe0, 0x80, 0xaf, 0xf0, 0x8f, 0xbf, 0xbf]);
add('above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]);
add('encoded lone surrogate', [0x61, 0xed, 0xa0, 0x80, 0x62]);
add('encoded surrogate pair', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]);
add('truncated sequence then ASCII', [0xe2, 0x82, 0x41, 0xf0, 0x9f, 0x98, 0x42]);
add('truncated sequence at end', [0x61, 0xe2, 0x82]);
add('terminal output', Buffer.from('\x1b[1;32muser@host\x1b[0m:\x1b[34m~/app\x1b[0m$ ls\r\n\x1b]133;A\x07\x1b[2K\x1b[10;1H'));
add('every byte', Array.from({ length: 256 }, (_, i) => i));
add('empty', []);
const dec = new TextDecoder('utf-8', { ignoreBOM: true });
const lines = cases.map(({ name, hex }) => {
  const data = dec.decode(Buffer.from(hex, 'hex'));
  return JSON.stringify({
    name,
    hex,
    output: JSON.stringify({ type: 'output', data }),
    input: JSON.stringify({ type: 'input', data }),
    probe: JSON.stringify({ type: 'fs-watch-unsubscribe', subId: 'nimbus-liveness-probe', reqId: data }),
  });
});
process.stdout.write('[\n' + lines.join(',\n') + '\n]\n');
