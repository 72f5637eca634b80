/**
 * Inbound authentication (policy `inboundAuth`). SPF is evaluated as soon as the envelope
 * sender is known, at MAIL FROM (as Postfix's policy daemons and chasquid do), while the client
 * goes on with RCPT and DATA. In DATA the message's bytes go to the spool file and, on the way,
 * through mailauth's DKIM verifier, which hashes the body as it streams; DMARC follows once
 * DATA has ended, from the DKIM results and the SPF result of MAIL FROM. The result is
 * AuthFindings, turned into headers and a verdict by pipeline/authentication-results.ts. Only
 * sessions with the policy on and a stranger as client pass this way; others write to the
 * spool file directly.
 */
import { isIP } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { dkimVerify, dmarc, spf, type DKIMVerifyResult, type DMARCResult, type DNSResolver } from 'mailauth';
import { dkimVerdict } from '../dkim/verdict.js';
import {
  authenticationResultsHeader,
  claimsOurAuthservId,
  inboundAuthVerdict,
  receivedSpfHeader,
  type AuthFindings,
  type SpfFinding,
  type AuthResult,
  type DmarcAction,
} from '../pipeline/authentication-results.js';
import type { Verdict } from '../pipeline/verdict.js';

/**
 * A header section longer than this is passed on unfiltered and not verified, so memory stays
 * bounded; the findings say why (DKIM and DMARC permerror), and the verdict refuses the
 * message (552 5.3.4), as neither its results nor its filtering can be trusted.
 */
const HEADER_SECTION_LIMIT = 256 * 1024;
/** The reason the Authentication-Results header and the log give for that. */
const HEADER_SECTION_TOO_LARGE = 'header section over 256 KiB, not verified';
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Removes incoming Authentication-Results fields that claim our authserv-id (RFC 8601 §5: a
 * receiver MUST remove or rename them, or a sender could forge our verdict). Holds the header
 * section until its end, then passes every byte straight through.
 */
export class ForgedResultsFilter {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private passing = false;
  removed = 0;
  /** The header section outgrew HEADER_SECTION_LIMIT and went on unfiltered. */
  overflowed = false;

  constructor(private readonly hostname: string) {}

  /** The bytes to write now for `chunk` (none while the header section is still arriving). */
  feed(chunk: Buffer): Buffer {
    if (this.passing) return chunk;
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    const section = Buffer.concat(this.held, this.heldBytes);
    // A message that starts with its blank line has an empty header section.
    if (section.length >= 2 && section[0] === 0x0d && section[1] === 0x0a) return this.release(section, 0);
    // Searched from just before the new chunk, so a long section is not scanned again and again.
    const end = section.indexOf(HEADER_END, Math.max(0, this.heldBytes - chunk.length - 3));
    if (end >= 0) return this.release(section, end + 2);
    if (this.heldBytes > HEADER_SECTION_LIMIT) {
      this.overflowed = true;
      return this.release(section, 0);
    }
    this.held = [section];
    return Buffer.alloc(0);
  }

  /** At the end of the message: what is still held (a message with no body). */
  flush(): Buffer {
    if (this.passing) return Buffer.alloc(0);
    return this.release(Buffer.concat(this.held, this.heldBytes), this.heldBytes);
  }

  /** Filters the fields in section[0, headerEnd) and passes the rest as it is. */
  private release(section: Buffer, headerEnd: number): Buffer {
    this.passing = true;
    this.held = [];
    const fields = section.toString('latin1', 0, headerEnd).split(/\r\n(?![ \t])/);
    const kept = fields.filter((field) => {
      const forged = field !== '' && claimsOurAuthservId(field, this.hostname);
      if (forged) this.removed++;
      return !forged;
    });
    if (this.removed === 0) return section;
    return Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), section.subarray(headerEnd)]);
  }
}

/**
 * The stream receiveMessage writes to: every byte to the spool file (forged results removed)
 * and to mailauth's input, each with its own back-pressure, so a slow verifier or a slow disk
 * pauses the client and memory stays at a few buffers whatever the size.
 */
class AuthTee extends Writable {
  private verifierGone = false;

  constructor(
    private readonly file: Writable,
    private readonly verifier: PassThrough,
    private readonly filter: ForgedResultsFilter,
  ) {
    super();
    file.on('error', (error: Error) => this.destroy(error));
  }

  /** mailauth stopped reading (it failed): bytes go on to the file alone. */
  dropVerifier(): void {
    this.verifierGone = true;
    // Flowing with no reader discards what is buffered, so a write waiting for 'drain' gets it.
    this.verifier.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const toFile = this.filter.feed(chunk);
    // mailauth would hold the whole header section: past our limit it is not verified at all.
    if (this.filter.overflowed && !this.verifierGone) {
      this.verifierGone = true;
      this.verifier.destroy(new Error(HEADER_SECTION_TOO_LARGE));
    }
    this.forward(chunk, toFile, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.verifier.end();
    this.forward(Buffer.alloc(0), this.filter.flush(), callback);
  }

  private forward(toVerifier: Buffer, toFile: Buffer, callback: (error?: Error | null) => void): void {
    let waiting = 1;
    const done = (): void => {
      if (--waiting === 0) callback();
    };
    if (toFile.length > 0 && !this.file.write(toFile)) {
      waiting++;
      this.file.once('drain', done);
    }
    if (toVerifier.length > 0 && !this.verifierGone && !this.verifier.write(toVerifier)) {
      waiting++;
      this.verifier.once('drain', done);
    }
    done();
  }
}

function authResult(value: string | undefined): AuthResult {
  switch (value) {
    case 'pass':
    case 'fail':
    case 'softfail':
    case 'neutral':
    case 'none':
    case 'temperror':
    case 'permerror':
    case 'policy':
      return value;
    case 'temperr':
      return 'temperror';
    default:
      return 'none';
  }
}

/** What SPF is evaluated from: the client, its HELO and the envelope sender. */
export interface SpfFacts {
  readonly clientAddress: string;
  readonly helo: string;
  /** Empty for the null sender. */
  readonly mailFrom: string;
  readonly hostname: string;
}

/** RFC 7208 check of the client for the sender (the HELO name for the null sender); never rejects. */
export async function evaluateSpf(facts: SpfFacts, resolver: DNSResolver): Promise<SpfFinding> {
  // As mailauth's authenticate: an address literal as HELO is checked in its bracket form.
  const helo = facts.helo === '' ? facts.clientAddress : facts.helo;
  const finding = (result: AuthResult, domain: string): SpfFinding => ({
    result,
    mailFrom: facts.mailFrom,
    helo: facts.helo,
    clientAddress: facts.clientAddress,
    domain,
  });
  try {
    const checked = await spf({
      ip: facts.clientAddress,
      helo: isIP(helo) === 0 ? helo : `[${helo}]`,
      ...(facts.mailFrom === '' ? {} : { sender: facts.mailFrom }),
      mta: facts.hostname,
      resolver,
    });
    return finding(authResult(checked.status.result), checked.domain);
  } catch {
    return finding('temperror', '');
  }
}

/** DKIM's and DMARC's answers, with SPF's, as AuthFindings; a signature line without a selector is "not signed". */
function findingsOf(
  dkim: DKIMVerifyResult,
  dmarcResult: DMARCResult | false,
  spfFinding: SpfFinding,
): AuthFindings {
  const fromDomain = dkim.headerFrom[0]?.split('@').pop()?.toLowerCase() ?? '';
  const policy = dmarcResult === false ? undefined : dmarcResult;
  return {
    spf: spfFinding,
    dkim: dkim.results
      .filter((signature) => signature.selector !== undefined)
      .map((signature) => ({
        result: authResult(dkimVerdict(signature.status).Result),
        domain: signature.signingDomain,
        selector: signature.selector ?? '',
      })),
    dmarc: {
      result: authResult(policy?.status.result),
      fromDomain,
      policy: policy?.rr === undefined ? undefined : policy.policy,
      pct: policy?.pct,
    },
  };
}

/**
 * Findings when DKIM and DMARC could not be evaluated: mailauth failed (as after a DNS failure:
 * temperror), or the header section was too large to verify (permerror, with the reason).
 */
function undecided(spfFinding: SpfFinding, notChecked?: string): AuthFindings {
  return {
    spf: spfFinding,
    ...(notChecked === undefined ? {} : { notChecked }),
    dkim: [],
    dmarc: {
      result: notChecked === undefined ? 'temperror' : 'permerror',
      fromDomain: '',
      policy: undefined,
      pct: undefined,
    },
  };
}

/** One message's evaluation: write DATA into `stream`, then ask `findings()`. */
export class InboundAuthCheck {
  readonly stream: Writable;
  readonly filter: ForgedResultsFilter;
  private readonly verification: Promise<DKIMVerifyResult | undefined>;
  private readonly tee: AuthTee;
  private readonly verifierInput = new PassThrough();

  constructor(
    file: Writable,
    private readonly hostname: string,
    private readonly spfFinding: Promise<SpfFinding>,
    private readonly resolver: DNSResolver,
  ) {
    const verifierInput = this.verifierInput;
    this.filter = new ForgedResultsFilter(hostname);
    this.tee = new AuthTee(file, verifierInput, this.filter);
    this.stream = this.tee;
    this.verification = dkimVerify(verifierInput, { resolver }).catch(() => {
      this.tee.dropVerifier();
      return undefined;
    });
  }

  /** After DATA was stored: the last bytes reach the file, then the evaluation's findings. */
  async findings(): Promise<AuthFindings> {
    await new Promise<void>((resolve, reject) => {
      this.tee.end((error?: Error | null) => {
        if (error) reject(error);
        else resolve();
      });
    });
    const [verified, spfFinding] = await Promise.all([this.verification, this.spfFinding]);
    if (this.filter.overflowed) return undecided(spfFinding, HEADER_SECTION_TOO_LARGE);
    if (verified === undefined) return undecided(spfFinding);
    let dmarcResult: DMARCResult | false;
    try {
      dmarcResult = await dmarc({
        headerFrom: verified.headerFrom,
        spfDomains: spfFinding.result === 'pass' && spfFinding.domain !== '' ? [spfFinding.domain] : [],
        dkimDomains: verified.results
          .filter((signature) => signature.status.result === 'pass')
          .map((signature) => ({
            ...(signature.id === undefined ? {} : { id: signature.id }),
            domain: signature.signingDomain,
            ...(signature.status.aligned === undefined ? {} : { aligned: signature.status.aligned }),
            ...(signature.status.underSized === undefined ? {} : { underSized: signature.status.underSized }),
          })),
        resolver: this.resolver,
      });
    } catch {
      return undecided(spfFinding);
    }
    return findingsOf(verified, dmarcResult, spfFinding);
  }

  /**
   * After DATA was stored: the verdict under `action`, and the headers to put on top of the
   * message: Authentication-Results, then Received-SPF (RFC 7208 §9.1: above our Received).
   */
  async conclude(action: DmarcAction): Promise<{ verdict: Verdict; header: Buffer; findings: AuthFindings }> {
    const findings = await this.findings();
    const headers =
      authenticationResultsHeader(this.hostname, findings) + receivedSpfHeader(this.hostname, findings.spf);
    return {
      verdict: inboundAuthVerdict(action, findings),
      header: Buffer.from(headers, 'latin1'),
      findings,
    };
  }

  /** DATA was refused or the client left: stop, and let the evaluation end unheard. */
  cancel(): void {
    this.tee.destroy();
    this.verifierInput.destroy(new Error('message refused'));
  }
}

/** What the session calls: SPF at MAIL FROM, the DATA check with that SPF result. */
export interface InboundAuthStart {
  spf(facts: SpfFacts): Promise<SpfFinding>;
  check(file: Writable, hostname: string, spf: Promise<SpfFinding>): InboundAuthCheck;
}

/** The resolver is the configured one (delivery.dns). */
export function inboundAuthStarter(resolver: DNSResolver): InboundAuthStart {
  return {
    spf: (facts) => evaluateSpf(facts, resolver),
    check: (file, hostname, spfFinding) => new InboundAuthCheck(file, hostname, spfFinding, resolver),
  };
}
