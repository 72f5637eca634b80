import { isIP } from 'node:net';
import { z } from 'zod';
import { DKIM_ALGORITHMS } from '../dkim/algorithms.js';
import { portClashes } from './ports.js';

/** A CIDR such as 10.0.0.0/8 or ::1/128; a bare address means a single host. */
const cidr = z.string().refine(
  (value) => {
    const [address = '', prefix, ...extra] = value.split('/');
    const family = isIP(address);
    if (family === 0 || extra.length > 0) return false;
    if (prefix === undefined) return true;
    const bits = Number(prefix);
    return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
  },
  { message: 'must be an IP address or CIDR, e.g. 192.0.2.0/24 or ::1/128' },
);

const domain = z
  .string()
  .min(1)
  .transform((value) => value.toLowerCase())
  // ASCII letters, digits, dots and dashes, or an IDN in Unicode (U-labels).
  .refine((value) => /^[a-z0-9.-]+$/.test(value) || /[^\p{ASCII}]/u.test(value), {
    message: 'must be a domain name',
  });

const seconds = z.number().positive();

/** Mailpit's ValidTagRegexp: letters, digits, spaces, '-', '_', '.', '@'; 1 to 100 characters. */
const tagName = z
  .string()
  .regex(/^[a-zA-Z0-9\-_. @]{1,100}$/, "must be 1-100 letters, digits, spaces, '-', '_', '.' or '@'")
  .refine((tag) => tag.trim() === tag, { message: 'must not start or end with a space' });

export const limitsSchema = z.strictObject({
  /** Largest message in bytes, advertised in SIZE and enforced while streaming. */
  maxMessageSize: z
    .number()
    .int()
    .positive()
    .default(25 * 1024 * 1024),
  /** RFC 5321 §4.5.3.1.8 asks that at least 100 be accepted. */
  maxRecipients: z.number().int().min(1).default(100),
  maxConnections: z.number().int().min(1).default(200),
  maxConnectionsPerClient: z.number().int().min(1).default(20),
  /** RFC 5321 §4.5.3.2: 5 minutes for commands, 10 minutes for the end of DATA. */
  idleTimeoutSeconds: seconds.default(300),
  authFailuresBeforeDisconnect: z.number().int().min(1).default(3),
  /**
   * Of maxConnections, how many may be clients outside trustedNetworks that have not
   * authenticated; the rest is a reserve for trusted and authenticated clients, so idle
   * strangers cannot lock them out. Default: three quarters of maxConnections.
   */
  maxUnauthenticatedConnections: z.number().int().min(1).optional(),
  /**
   * The listener is under stress from this share of maxConnections in use: idle timeouts drop
   * to stressIdleTimeoutSeconds, as Postfix's smtpd_timeout = ${stress?10}${stress:300}.
   */
  stressThreshold: z.number().gt(0).max(1).default(0.8),
  stressIdleTimeoutSeconds: seconds.default(10),
  /**
   * Slowest DATA in bytes per second: DATA may take the idle timeout plus size / rate, so a
   * byte a second cannot hold a connection forever (Postfix smtpd_min_data_rate 500). 0: off.
   */
  minDataRate: z.number().min(0).default(500),
  /** Per client address and per AUTH user; 0 is no limit. Trusted networks are not limited. */
  rate: z
    .strictObject({
      messagesPerMinute: z.number().int().min(0).default(0),
      recipientsPerHour: z.number().int().min(0).default(0),
    })
    .prefault({}),
});

export const authThrottleSchema = z.strictObject({
  /** Wait before checking the next password after one failure; doubles per failure. 0: off. */
  baseDelayMs: z.number().int().min(0).default(250),
  /** The longest wait; an attempt whose turn is further away gets 454 4.7.0 after it, unchecked. */
  maxDelayMs: z.number().int().min(0).default(10_000),
  /** Failures are forgotten this long after the last one. */
  forgetAfterSeconds: seconds.default(900),
});

export const policySchema = z.strictObject({
  /** none: AUTH never offered; optional: offered, not needed; required: MAIL needs it. */
  auth: z.enum(['none', 'optional', 'required']).default('none'),
  /** Offer and accept AUTH only inside TLS (Postfix smtpd_tls_auth_only). */
  authRequiresTls: z.boolean().default(true),
  authMechanisms: z
    .array(z.enum(['PLAIN', 'LOGIN']))
    .min(1)
    .default(['PLAIN', 'LOGIN']),
  /** Failed AUTH attempts slow the next ones down, per client address and per account. */
  authThrottle: authThrottleSchema.prefault({}),
  /** Which envelope senders an authenticated user may use: their own addresses, or any. */
  authenticatedSenders: z.enum(['own', 'any']).default('own'),
  relay: z
    .strictObject({
      /** Clients in these networks may relay to any domain. */
      trustedNetworks: z.array(cidr).default([]),
      /** Authenticated clients may relay to any domain. */
      authenticated: z.boolean().default(true),
      /**
       * Let clients that may not relay (untrusted, not authenticated) use sender-specified
       * routing: a source route (<@hop:user@domain>) or '%', '!' or '@' in the local part. A
       * next hop may honour those and deliver elsewhere; Postfix's allow_untrusted_routing = no.
       */
      allowUntrustedRouting: z.boolean().default(false),
    })
    .prefault({}),
  limits: limitsSchema.prefault({}),
  /**
   * What to do with a bare CR or LF inside DATA: normalise it to CRLF (Postfix's default)
   * or refuse the message. Either way the spool never holds one.
   */
  bareLineEndings: z.enum(['normalize', 'reject']).default('normalize'),
  /**
   * What to do with a NUL byte inside DATA (never valid in a message; "\r\n\x00.\r\n" is a
   * smuggling probe): strip it, or refuse the message. Either way the spool never holds one.
   */
  nulBytes: z.enum(['strip', 'reject']).default('strip'),
  /** Milliseconds to wait before the greeting; a talker that speaks first is refused. */
  greetPauseMs: z.number().int().min(0).max(30_000).default(0),
  /**
   * SPF, DKIM and DMARC of mail from other MTAs (clients neither trusted nor authenticated),
   * recorded in an Authentication-Results header before the 250; lookups use delivery.dns.
   * dmarc: record only writes the header; reject also refuses (550 5.7.1) a DMARC failure
   * for a domain that publishes p=reject. spf: reject refuses an SPF fail at MAIL FROM
   * (550 5.7.23), before the body is sent, as chasquid does. Unset: nothing is evaluated.
   */
  inboundAuth: z
    .strictObject({
      dmarc: z.enum(['record', 'reject']).default('record'),
      spf: z.enum(['record', 'reject']).default('record'),
    })
    .optional(),
});

export const listenerSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/, 'must be lower-case letters, digits and dashes'),
  role: z.enum(['relay', 'submission', 'submissions']),
  port: z.number().int().min(0).max(65535),
  host: z.string().min(1).default('0.0.0.0'),
  tls: z.enum(['none', 'starttls', 'implicit']),
  policy: z.string().min(1),
  /**
   * Load balancers allowed to send a PROXY protocol v1 header (exact addresses). Their
   * header's client address then drives policy, rate limits and the Received header.
   */
  proxyFrom: z
    .array(z.string().refine((value) => isIP(value) !== 0, { message: 'must be an IP address' }))
    .default([]),
  /**
   * How long a balancer's connection may take to send its PROXY line; default 5 (Postfix's
   * smtpd_upstream_proxy_timeout), not the idle timeout of a session.
   */
  proxyTimeoutSeconds: seconds.optional(),
});

/** A fault rule as written in YAML: patterns are case-insensitive substrings, or /regex/. */
const addressPattern = z.string().refine(
  (value) => {
    const literal = /^\/(.*)\/([a-z]*)$/.exec(value);
    if (!literal) return true;
    try {
      new RegExp(literal[1] ?? '', literal[2]);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not a valid /regular expression/' },
);

export const faultRuleSchema = z.strictObject({
  stage: z.enum(['connect', 'ehlo', 'auth', 'mail', 'rcpt', 'data', 'after-data']),
  sender: addressPattern.optional(),
  recipient: addressPattern.optional(),
  reply: z
    .strictObject({
      code: z.number().int().min(400).max(599),
      enhanced: z
        .string()
        .regex(/^[45]\.\d{1,3}\.\d{1,3}$/, 'must look like 4.X.Y or 5.X.Y')
        .optional(),
      text: z
        .string()
        .regex(/^[^\r\n]*$/, 'must be one line')
        .optional(),
    })
    .optional(),
  delayMs: z.number().int().min(0).max(600_000).optional(),
  drop: z.boolean().optional(),
  count: z.number().int().min(1).optional(),
  probability: z.number().min(0).max(1).optional(),
});

const smarthostRoute = z.strictObject({
  type: z.literal('smarthost'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(587),
  tls: z.enum(['none', 'starttls', 'implicit']).default('starttls'),
  auth: z.strictObject({ user: z.string().min(1), pass: z.string() }).optional(),
  /** Check the smarthost's certificate (on by default; off only for a lab). */
  verifyCertificate: z.boolean().default(true),
  /** Extra CA certificate file (PEM) to trust, e.g. a private CA. */
  caFile: z.string().optional(),
});

const mxRoute = z.strictObject({
  type: z.literal('mx'),
  port: z.number().int().min(1).max(65535).default(25),
  /** STARTTLS when offered, plain otherwise (the norm between MTAs). */
  tls: z.enum(['opportunistic', 'required']).default('opportunistic'),
  /** Domains whose MX must do TLS whatever `tls` says. */
  requireTlsDomains: z.array(domain).default([]),
});

/** A DNS server: "192.0.2.53", "127.0.0.1:5353", "[2001:db8::53]:53" (as dns.setServers takes them). */
const dnsServer = z.string().refine(
  (value) => {
    const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(value) ?? /^([0-9a-fA-F:]+)$/.exec(value);
    const address = match?.[1] ?? match?.[2] ?? '';
    const port = match?.[3] === undefined ? 53 : Number(match[3]);
    return isIP(address) !== 0 && port >= 1 && port <= 65535;
  },
  { message: 'must be an IP address with an optional port, e.g. 127.0.0.1:5353 or [::1]:53' },
);

/** A DKIM signing key for one domain (`mailwharf dkim keygen` makes one). */
const dkimKeySchema = z.strictObject({
  /** The d= domain: mail whose From is this domain or a subdomain of it is signed. */
  domain,
  selector: z.string().regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, 'must be a DNS label such as mail2026'),
  /** PEM private key (PKCS#8 or PKCS#1), readable by the server's user only. */
  keyFile: z.string().min(1),
  algorithm: z.enum(DKIM_ALGORITHMS).default('rsa-sha256'),
  /** Header fields to sign; unset: From, To, Cc, Subject, Date, Message-ID, MIME and list headers. */
  headers: z
    .array(z.string().regex(/^[!-9;-~]+$/, 'must be a header field name'))
    .min(1)
    .optional(),
});

const routeSchema = z.discriminatedUnion('type', [smarthostRoute, mxRoute]);

/** A recipient domain pattern for delivery.routes: "example.com", or "*.example.com" for its subdomains. */
const domainPattern = z
  .string()
  .transform((value) => value.toLowerCase())
  .refine((value) => /^(\*\.)?([a-z0-9-]+\.)*[a-z0-9-]+$/.test(value) || /[^\p{ASCII}]/u.test(value), {
    message: 'must be a domain, or *.domain for its subdomains',
  });

export const deliverySchema = z.strictObject({
  route: routeSchema.default({ type: 'mx', port: 25, tls: 'opportunistic', requireTlsDomains: [] }),
  /** Per-domain routes (Postfix transport_maps): the first entry matching the recipient's domain wins; else `route`. */
  routes: z.array(z.strictObject({ domains: z.array(domainPattern).min(1), route: routeSchema })).default([]),
  /** In relay mode, recipients in these domains are captured (kept), not delivered. */
  captureDomains: z.array(domain).default([]),
  retry: z
    .strictObject({
      /** Postfix: minimal_backoff_time 300s, maximal_backoff_time 4000s, maximal_queue_lifetime 5d. */
      firstRetrySeconds: seconds.default(300),
      maxRetrySeconds: seconds.default(4200),
      giveUpAfterSeconds: seconds.default(5 * 24 * 3600),
    })
    .prefault({}),
  concurrency: z
    .strictObject({
      total: z.number().int().min(1).default(20),
      perDestination: z.number().int().min(1).default(5),
    })
    .prefault({}),
  /** Send the sender a delay warning once a message has waited this long; 0 is off. */
  delayWarningSeconds: z.number().min(0).default(0),
  connectTimeoutSeconds: seconds.default(30),
  /** How often the worker looks for due messages when nothing wakes it. */
  pollSeconds: seconds.default(30),
  /** The resolver for every lookup delivery makes (MX, A/AAAA, MTA-STS TXT); empty: the system's. */
  dns: z
    .strictObject({
      servers: z.array(dnsServer).default([]),
      timeoutSeconds: seconds.default(5),
    })
    .prefault({}),
  /** MTA-STS (RFC 8461) on the MX route: a domain's policy is discovered, cached and applied. */
  mtaSts: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** The policy host's HTTPS port: 443 (another only for a lab or a test). */
      policyPort: z.number().int().min(1).max(65535).default(443),
    })
    .prefault({}),
  /**
   * Remember, per recipient domain, the best TLS its MX has shown (chasquid's domain info), in
   * the spool's tls/ directory, and never deliver there with less: `mailwharf tls forget DOMAIN`.
   */
  tlsMemory: z.boolean().default(true),
  /**
   * CA certificates (PEM) trusted instead of the system's wherever the MX route checks a
   * certificate (MTA-STS policy hosts, MX hosts under enforce or remembered as verified); a lab's.
   */
  caFile: z.string().optional(),
  /**
   * Per destination domain (first matching entry): messages and new connections per minute
   * (over either, mail waits) and connections open at once (over it, deliveries queue for one).
   */
  rateLimits: z
    .array(
      z
        .strictObject({
          domains: z.array(domainPattern).min(1),
          messagesPerMinute: z.number().int().min(1).optional(),
          connectionsPerMinute: z.number().int().min(1).optional(),
          maxConnections: z.number().int().min(1).optional(),
        })
        .refine(
          (entry) =>
            entry.messagesPerMinute !== undefined ||
            entry.connectionsPerMinute !== undefined ||
            entry.maxConnections !== undefined,
          { message: 'give messagesPerMinute, connectionsPerMinute or maxConnections' },
        ),
    )
    .default([]),
  /** DKIM keys; outgoing mail is signed with the key of its From domain (or a parent's). */
  dkim: z
    .array(dkimKeySchema)
    .default([])
    .refine((keys) => new Set(keys.map((k) => k.domain)).size === keys.length, {
      message: 'one key per domain: a domain appears twice',
    }),
});

const userSchema = z.strictObject({
  username: z.string().min(1),
  /** scrypt hash made by `mailwharf hash-password`. */
  passwordHash: z.string().regex(/^scrypt\$/, 'must be a hash made by `mailwharf hash-password`'),
  /** Envelope senders this user may use; defaults to the username when it is an address. */
  addresses: z.array(z.string()).optional(),
});

export const configSchema = z
  .strictObject({
    hostname: z.string().min(1).default('localhost'),
    /**
     * Where mail to the bare RCPT TO:<postmaster> goes (RFC 5321 §4.5.1 says it must be
     * accepted). Default: postmaster@ the first accepted domain, else @ hostname.
     */
    postmaster: z
      .string()
      .regex(/^[^@\s]+@[^@\s]+$/, 'must be an address like postmaster@example.com')
      .optional(),
    /** Domains we receive mail for; anything else is relaying. */
    acceptedDomains: z.array(domain).default([]),
    /** capture: keep mail for the web UI and API; relay: deliver onward (see the relay issue). */
    mode: z.enum(['capture', 'relay']).default('relay'),
    spool: z.strictObject({ dir: z.string().min(1).default('spool') }).prefault({}),
    tls: z
      .strictObject({
        cert: z.string().optional(),
        key: z.string().optional(),
        /** Where the self-signed certificate is kept when cert and key are not set. */
        selfSignedDir: z.string().default('certs'),
        minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
      })
      .prefault({})
      .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), {
        message: 'cert and key must be set together',
      }),
    auth: z
      .strictObject({
        /** Accept any username and password. Meant for the dev profile only. */
        acceptAnyCredentials: z.boolean().default(false),
        users: z.array(userSchema).default([]),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Human-readable lines instead of JSON; auto: when stdout is a terminal. */
        pretty: z.union([z.boolean(), z.literal('auto')]).default(false),
      })
      .prefault({}),
    shutdownGraceSeconds: seconds.default(30),
    /**
     * The first stop signal repeated within this is a parent's forwarded copy (npm, tini), not a
     * second request to exit at once: a late forwarder on a loaded host needs more. At most 10
     * minutes: a forwarded copy comes within seconds, and a longer window only takes away
     * "again: exit now" (a larger value is more likely a unit mistake, e.g. milliseconds).
     */
    shutdownRepeatWindowSeconds: z
      .number()
      .min(0)
      .max(600, 'at most 600 seconds: a forwarded copy comes within seconds')
      .default(1),
    delivery: deliverySchema.prefault({}),
    /** The captured-mail index (capture mode, and captureDomains in relay mode). */
    sink: z
      .strictObject({
        retention: z
          .strictObject({
            /** Oldest messages beyond this count are pruned; 0 is no limit. */
            maxMessages: z.number().int().min(0).default(10_000),
            /** Messages older than this are pruned; 0 is no limit. */
            maxAgeHours: z.number().min(0).default(0),
            /** Oldest messages are pruned while the total is above this; 0 is no limit. */
            maxTotalMiB: z.number().min(0).default(2048),
          })
          .prefault({}),
        /**
         * Mailpit's tag filters (--tag, --tags-config): a message matching `match` (the search
         * syntax) gets `tags` before its 250. check-config and the sink's start check the syntax.
         */
        tagRules: z
          .array(
            z.strictObject({
              match: z.string().trim().min(1, 'must be a search, e.g. "subject:invoice"'),
              tags: z.array(tagName).min(1),
            }),
          )
          .default([]),
        /** Tag each message with its SMTP AUTH user (Mailpit's --tags-username). */
        tagUsername: z.boolean().default(false),
        /** user+TAG@… in From, To, Cc, Bcc or the envelope tags TAG (Mailpit's default; --tags-disable plus-addresses). */
        plusAddressTags: z.boolean().default(true),
      })
      .prefault({}),
    /** The web UI, the Mailpit-compatible API and /metrics. */
    http: z
      .strictObject({
        enabled: z.boolean().default(false),
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8025),
        /** Serve under a path prefix, e.g. /mail (behind a reverse proxy). */
        basePath: z
          .string()
          .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'must be empty or like /mail')
          .default(''),
        /** Optional HTTP Basic auth; the hash comes from `mailwharf hash-password`. */
        basicAuth: z
          .strictObject({ username: z.string().min(1), passwordHash: z.string().regex(/^scrypt\$/) })
          .optional(),
        /**
         * Host names the UI and API answer to besides loopback names, the bind address and
         * hostname (and, bound to 0.0.0.0 or ::, the machine's own names): a defence against
         * DNS rebinding. Add the name you reach the sink by, e.g. mailwharf.internal.
         */
        allowedHosts: z.array(z.string().min(1)).default([]),
        /** Origins allowed to call the API from a browser (CORS), e.g. http://localhost:3000. */
        cors: z.array(z.url()).default([]),
        /** Each new message's summary is POSTed here as JSON (Mailpit's webhook). */
        webhook: z.url().optional(),
      })
      .prefault({}),
    /** Checks the dev sink runs on a captured message when asked (API and UI tabs). */
    checks: z
      .strictObject({
        /**
         * DNS servers ("ip" or "ip:port") for the authentication check (DKIM keys, SPF,
         * DMARC); empty is the system's resolvers.
         */
        dnsServers: z.array(z.string().min(1)).default([]),
        /** Seconds one DNS query may take before the check reports temperror. */
        dnsTimeoutSeconds: seconds.default(3),
        /** spamd ("host:port") for GET /api/v1/message/{ID}/sa-check; unset: the check is off. */
        spamassassin: z
          .string()
          .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:783')
          .optional(),
      })
      .prefault({}),
    /** A Prometheus /metrics listener of its own, so metrics work with the web UI off. */
    metrics: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535),
      })
      .optional(),
    /** Releasing a captured message to a real SMTP server, as Mailpit and MailHog allow. */
    release: z
      .strictObject({
        route: smarthostRoute,
        /** Only recipients in these domains may be released to, so a click cannot mail the world. */
        allowedDomains: z.array(domain).min(1),
      })
      .optional(),
    /** Fault injection for tests and, explicitly enabled, for dev. */
    faults: z
      .strictObject({
        enabled: z.boolean().default(false),
        rules: z.array(faultRuleSchema).default([]),
      })
      .prefault({})
      .refine((faults) => faults.enabled || faults.rules.length === 0, {
        message: 'rules are given but enabled is false; set faults.enabled: true to use them',
      }),
    policies: z.record(z.string(), policySchema),
    listeners: z.array(listenerSchema).min(1),
  })
  .superRefine((config, ctx) => {
    config.listeners.forEach((listener, index) => {
      const policy = config.policies[listener.policy];
      if (!policy) {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', index, 'policy'],
          message: `names policy "${listener.policy}", which is not defined under policies`,
        });
        return;
      }
      // Submission exists for authenticated senders; a start-up check, as maddy does.
      if (listener.role !== 'relay' && policy.auth === 'none') {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', index, 'policy'],
          message: `role ${listener.role} needs a policy with auth: required (or optional)`,
        });
      }
      if (listener.role === 'submissions' && listener.tls !== 'implicit') {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', index, 'tls'],
          message: 'role submissions needs tls: implicit',
        });
      }
    });
    // Any password accepted plus relaying for authenticated clients would be an open relay.
    if (config.auth.acceptAnyCredentials && config.mode === 'relay') {
      ctx.addIssue({
        code: 'custom',
        path: ['auth', 'acceptAnyCredentials'],
        message: 'only allowed with mode: capture (in relay mode it would make an open relay)',
      });
    }
    const names = new Set<string>();
    config.listeners.forEach((listener, index) => {
      if (names.has(listener.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', index, 'name'],
          message: `duplicate listener name "${listener.name}"`,
        });
      }
      names.add(listener.name);
    });
    for (const clash of portClashes(config)) ctx.addIssue({ code: 'custom', ...clash });
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type Policy = z.output<typeof policySchema>;
export type Limits = z.output<typeof limitsSchema>;
export type AuthThrottleSettings = z.output<typeof authThrottleSchema>;
export type ListenerConfig = z.output<typeof listenerSchema>;
export type UserConfig = z.output<typeof userSchema>;
export type DeliveryConfig = z.output<typeof deliverySchema>;
export type FaultRuleConfig = z.output<typeof faultRuleSchema>;
