// Regenerates number-node.json with Node.js (not needed by the tests):
//   node testdata/gen/number-node.js testdata/number-node.json > /tmp/n.json && mv /tmp/n.json testdata/number-node.json
// To add a case, add {"in":"…"} to the file and rerun.
//
// For every input: Number(s), and what upstream's `nimbus token mint --ttl s`
// does with it (ttlMs = Number(s) * 1000, then the TTL range check, then
// exp - iat = floor(ttlMs / 1000)). Numbers are written as String(v), the
// shortest round trip, and "-0" for negative zero. Generated with Node v20.20.2.
const entries = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const str = (v) => (Object.is(v, -0) ? '-0' : String(v));
const lines = entries.map(({ in: s }) => {
  const v = Number(s);
  const ms = v * 1000;
  const ok = !(ms <= 0) && !(ms > 2592000000);
  return JSON.stringify({ in: s, number: str(v), ttlMs: str(ms), expDelta: ok ? (Number.isNaN(ms) ? null : Math.floor(ms / 1000)) : 'E_TOKEN_TTL_TOO_LARGE' });
});
process.stdout.write('[\n' + lines.join(',\n') + '\n]\n');
