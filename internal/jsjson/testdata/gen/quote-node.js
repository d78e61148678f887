// Regenerates quote-node.json with Node.js (not needed by the tests):
//   node testdata/gen/quote-node.js > testdata/quote-node.json
//
// For every input (bytes, as hex): JSON.stringify of the string a WHATWG
// TextDecoder reads from them with the BOM kept, which is what upstream
// does with bytes it turns into JSON text. Generated with Node v20.
const cases = [];
const add = (name, bytes) => cases.push({ name, hex: Buffer.from(bytes).toString('hex') });
for (let c = 0; c < 0x20; c++) add('control 0x' + c.toString(16).padStart(2, '0'), [c]);
add('DEL', [0x7f]);
add('quote', Buffer.from('"'));
add('backslash', Buffer.from('\\'));
add('slash and HTML', Buffer.from('/<>&\''));
add('U+2028', Buffer.from('\u2028'));
add('U+2029', Buffer.from('\u2029'));
add('U+FFFD itself', Buffer.from('\ufffd'));
add('BOM kept', Buffer.from('\ufeffa\ufeff'));
add('two to four bytes', Buffer.from('é€😀\u{10ffff}'));
add('lone continuation', [0x80]);
add('last continuation', [0xbf]);
add('C0 C1 never valid', [0xc0, 0xaf, 0xc1, 0xbf]);
add('F5..FF never valid', [0xf5, 0xf8, 0xfe, 0xff]);
add('overlong three bytes', [0xe0, 0x80, 0xaf]);
add('overlong four bytes', [0xf0, 0x8f, 0xbf, 0xbf]);
add('above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]);
add('encoded high surrogate (lone)', [0xed, 0xa0, 0x80]);
add('encoded low surrogate (lone)', [0xed, 0xbf, 0xbf]);
add('encoded surrogate pair', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]);
add('truncated three bytes then ASCII', [0xe2, 0x82, 0x41]);
add('truncated four bytes then ASCII', [0xf0, 0x9f, 0x98, 0x41]);
add('truncated three bytes at end', [0x61, 0xe2, 0x82]);
add('truncated four bytes at end', [0x61, 0xf0, 0x9f, 0x98]);
add('lead then lead', [0xe2, 0xe2, 0x82, 0xac]);
add('mixed', Buffer.concat([Buffer.from('a"b\\c\x00\x1b[31m\r\n\t\b\f\u2028é😀<&>'), Buffer.from([0xff, 0x41, 0xe2, 0x82])]));
add('every byte', Array.from({ length: 256 }, (_, i) => i));
add('empty', []);
const dec = new TextDecoder('utf-8', { ignoreBOM: true });
const lines = cases.map(({ name, hex }) => JSON.stringify({ name, hex, quoted: JSON.stringify(dec.decode(Buffer.from(hex, 'hex'))) }));
process.stdout.write('[\n' + lines.join(',\n') + '\n]\n');
