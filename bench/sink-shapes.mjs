// The four shapes of captured mail the sink benchmarks use, in turn.
const words = ['invoice', 'welcome', 'password', 'report', 'meeting', 'shipping', 'newsletter', 'alert'];
const lorem = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(12);

/** Four shapes in turn: plain text, HTML with a text part, an attachment, an inline image. */
export function message(i) {
  const word = words[i % words.length];
  const head =
    `Received: from bench by bench.test; ${new Date().toUTCString()}\r\n` +
    `From: Sender ${i % 97} <sender${i % 97}@example.com>\r\nTo: user${i % 13}@example.org\r\n` +
    `Subject: ${word} number ${i}\r\nMessage-ID: <m${i}@bench>\r\nDate: ${new Date(Date.now() - i * 1000).toUTCString()}\r\n` +
    `MIME-Version: 1.0\r\n`;
  const text = `Hello user, this is ${word} message ${i}.\r\n${lorem}\r\n`;
  switch (i % 4) {
    case 0:
      return `${head}Content-Type: text/plain; charset=utf-8\r\n\r\n${text}`;
    case 1:
      return `${head}Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n${text}--b\r\nContent-Type: text/html\r\n\r\n<p>${text}</p>\r\n--b--\r\n`;
    case 2:
      return `${head}Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n${text}--b\r\nContent-Type: text/csv; name="data${i}.csv"\r\nContent-Disposition: attachment; filename="data${i}.csv"\r\n\r\na,b\r\n1,2\r\n--b--\r\n`;
    default:
      return `${head}Content-Type: multipart/related; boundary="b"\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>${text}</p><img src="cid:logo">\r\n--b\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n`;
  }
}
