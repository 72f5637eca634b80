/**
 * Independent DKIM verifiers for tests: mailauth's (the library we sign with) and Debian's
 * python3-dkim (another implementation, the one behind `dkimverify`), each given the public
 * key records as their DNS answers, so no resolver is needed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';

export type Records = Readonly<Record<string, string>>;

/** mailauth's verdict for the first signature: pass, fail, neutral, none… */
export async function verifyWithMailauth(message: Buffer, records: Records): Promise<string> {
  const result = await dkimVerify(message, {
    resolver: (name: string, type: string) => {
      const value = type === 'TXT' ? records[name] : undefined;
      if (value === undefined)
        return Promise.reject(Object.assign(new Error(`no ${type} ${name}`), { code: 'ENOTFOUND' }));
      return Promise.resolve([[value]]);
    },
  });
  return result.results[0]?.status.result ?? 'none';
}

/** Debian's python3-dkim, run as a separate process (`/usr/bin/python3`, not a pyenv python). */
export const PYTHON_DKIM = '/usr/bin/python3';

const VERIFY_SCRIPT = `
import dkim, json, sys
records = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    return records.get(name.decode().rstrip('.'), '').encode()
message = sys.stdin.buffer.read()
print('pass' if dkim.verify(message, dnsfunc=dnsfunc) else 'fail')
`;

export function pythonDkimAvailable(): boolean {
  return spawnSync(PYTHON_DKIM, ['-c', 'import dkim, nacl'], { stdio: 'ignore' }).status === 0;
}

/** python3-dkim's verdict on the first signature: 'pass' or 'fail'. */
export function verifyWithPythonDkim(message: Buffer, records: Records): string {
  const run = spawnSync(PYTHON_DKIM, ['-c', VERIFY_SCRIPT, JSON.stringify(records)], {
    input: message,
    timeout: 30_000,
  });
  if (run.status !== 0) throw new Error(`python3-dkim failed: ${run.stderr.toString()}`);
  return run.stdout.toString().trim();
}

const VERIFY_BY_DNS_SCRIPT = `
import dkim, dns.exception, dns.resolver, sys
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ['127.0.0.1']
resolver.port = int(sys.argv[1])
def dnsfunc(name, timeout=5):
    try:
        answer = resolver.resolve(name.decode(), 'TXT', lifetime=timeout)
    except dns.exception.DNSException:
        return b''
    for rdata in answer:
        return b''.join(rdata.strings)
    return b''
message = sys.stdin.buffer.read()
print('pass' if dkim.verify(message, dnsfunc=dnsfunc) else 'fail')
`;

/**
 * python3-dkim's verdict on the first signature, with the key looked up (by dnspython) in the
 * DNS server on 127.0.0.1:dnsPort. Asynchronous: that server may run in this very process.
 */
export function verifyWithPythonDkimByDns(message: Buffer, dnsPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON_DKIM, ['-c', VERIFY_BY_DNS_SCRIPT, String(dnsPort)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(stdout.trim());
      else reject(new Error(`python3-dkim failed (${String(code)}): ${stderr}`));
    });
    child.stdin.end(message);
  });
}

export function pythonDkimDnsAvailable(): boolean {
  return spawnSync(PYTHON_DKIM, ['-c', 'import dkim, nacl, dns.resolver'], { stdio: 'ignore' }).status === 0;
}
