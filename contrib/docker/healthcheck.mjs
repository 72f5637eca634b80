// The image's HEALTHCHECK: GET /readyz on the web port when the UI is on (the dev profile),
// else the SMTP greeting on the relay port (the production profile has no HTTP). Ports come
// from the same MAILWHARF_* variables the server reads. Exit 0 healthy, 1 not.
import { connect } from 'node:net';

const env = process.env;
const httpPort = Number(env.MAILWHARF_HTTP_PORT || 8025);
const smtpPort = Number(env.MAILWHARF_SMTP_PORT || 25);
const timer = setTimeout(() => process.exit(1), 4000);

function smtpGreeting() {
  const socket = connect(smtpPort, '127.0.0.1');
  socket.on('data', (data) => process.exit(String(data).startsWith('220') ? 0 : 1));
  socket.on('error', () => process.exit(1));
}

fetch(`http://127.0.0.1:${String(httpPort)}${env.MAILWHARF_HTTP_BASE_PATH || ''}/readyz`).then(
  (response) => {
    clearTimeout(timer);
    process.exit(response.ok ? 0 : 1);
  },
  () => smtpGreeting(),
);
