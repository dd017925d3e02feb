// The browser tests (test/browser/) drive Debian's Chromium through playwright-core: a browser
// download by playwright needs the internet, and Debian's package comes from its own mirror.
// `npm test` runs this first, so the README's test command works on a fresh machine.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(path)) {
  if (process.env.CHROMIUM_PATH) {
    console.error(`CHROMIUM_PATH is ${path}, which does not exist: the browser tests need Chromium there`);
    process.exit(1);
  }
  if (!existsSync('/usr/bin/apt-get')) {
    console.error('The browser tests need Chromium at /usr/bin/chromium (Debian: apt-get install chromium), or set CHROMIUM_PATH');
    process.exit(1);
  }
  console.log('Installing Debian chromium for the browser tests (apt-get install chromium) ...');
  const asRoot = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const run = (args) => {
    const [command, ...rest] = [...asRoot, ...args];
    execFileSync(command, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  try {
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', 'chromium']);
  } catch {
    console.error('Installing chromium failed: install it (apt-get install chromium) or set CHROMIUM_PATH, then run the tests again');
    process.exit(1);
  }
}
