/** Mailpit's link check: every http(s) link of a message, asked with HEAD (then GET) and a timeout. */

export interface LinkResult {
  readonly URL: string;
  readonly StatusCode: number;
  readonly Status: string;
}

const TIMEOUT_MS = 5000;
const CONCURRENCY = 5;
const MAX_LINKS = 100;

async function ask(url: string, method: 'HEAD' | 'GET', follow: boolean): Promise<Response> {
  const response = await fetch(url, {
    method,
    redirect: follow ? 'follow' : 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
    headers: { 'user-agent': 'mailwharf link check' },
  });
  // Only the status matters: the body is dropped unread.
  await response.body?.cancel();
  return response;
}

async function checkLink(url: string, follow: boolean): Promise<LinkResult> {
  try {
    let response = await ask(url, 'HEAD', follow);
    // Some servers refuse HEAD (405, 501) or answer it wrongly: ask again with GET, as Mailpit.
    if (response.status === 405 || response.status === 501 || response.status === 404) {
      response = await ask(url, 'GET', follow);
    }
    const status = response.status;
    return { URL: url, StatusCode: status, Status: response.statusText || String(status) };
  } catch (error) {
    const reason = error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'unreachable';
    return { URL: url, StatusCode: 0, Status: reason };
  }
}

/**
 * Checks up to 100 links, five at a time. A redirect counts as an answer unless `follow`. Errors are answers of 400 and above, or no answer at all.
 */
export async function checkLinks(urls: readonly string[], follow: boolean) {
  const queue = [...new Set(urls)].slice(0, MAX_LINKS);
  const results: LinkResult[] = new Array<LinkResult>(queue.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      const index = next++;
      results[index] = await checkLink(queue[index] ?? '', follow);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  return {
    Errors: results.filter((r) => r.StatusCode === 0 || r.StatusCode >= 400).length,
    Links: results,
  };
}
