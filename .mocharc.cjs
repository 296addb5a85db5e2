// `npx mocha dist/spec/x.spec.js` runs that spec alone; `npx mocha` (npm test) runs them all.
const named = process.argv.slice(2).some((a) => a.endsWith('.js'));
module.exports = {
  spec: named ? [] : ['dist/spec/**/*.spec.js'],
  timeout: 30000,
  slow: 2000,
  reporter: './spec/reporter.cjs',
};
