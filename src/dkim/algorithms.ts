/** The signing algorithms we offer: RSA for every receiver, Ed25519 (RFC 8463) beside it. */
export const DKIM_ALGORITHMS = ['rsa-sha256', 'ed25519-sha256'] as const;
export type DkimAlgorithm = (typeof DKIM_ALGORITHMS)[number];
