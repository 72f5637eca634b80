import { caniemail, rawData, type CanIEmailResult } from 'caniemail';

type FeatureIssue = NonNullable<ReturnType<CanIEmailResult['issues']['errors']['get']>>[number];
type Stats = Record<string, Record<string, Record<string, string>>>;

/** caniemail's nice names ship under "nicenames" (its type says nice_names). */
const niceNames = (rawData as unknown as { nicenames?: { family?: Record<string, string> } }).nicenames;
const familyName = (family: string): string => niceNames?.family?.[family] ?? family;

type Support = 'yes' | 'no' | 'partial';

interface ClientResult {
  readonly Family: string;
  readonly Platform: string;
  readonly Version: string;
  readonly Name: string;
  readonly Support: Support;
  readonly NoteNumber: string;
}

/** "y", "n", "a #1" (partial, note 1) in caniemail's stats. */
function support(value: string): { support: Support; note: string } {
  const [flag = '', note = ''] = value.split(/\s+#/);
  return { support: flag === 'y' ? 'yes' : flag === 'a' ? 'partial' : 'no', note };
}

/** Each client's result on its latest tested version, as Mailpit lists them. */
function latestResults(stats: Stats): ClientResult[] {
  return Object.entries(stats).flatMap(([family, platforms]) =>
    Object.entries(platforms).flatMap(([platform, versions]) => {
      const [version, value] = Object.entries(versions).at(-1) ?? ['', 'u'];
      if (value.startsWith('u')) return [];
      const { support: level, note } = support(value);
      return [
        {
          Family: familyName(family),
          Platform: platform,
          Version: version,
          Name: `${familyName(family)} ${platform} ${version}`,
          Support: level,
          NoteNumber: note,
        },
      ];
    }),
  );
}

const mean = (values: number[], empty: number) =>
  values.length === 0 ? empty : Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 100) / 100;

const percent = (part: number, whole: number) =>
  whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 100;

/**
 * GET /api/v1/message/{ID}/html-check: caniemail's data on the HTML and its CSS, in Mailpit's
 * shape. A feature is listed when some client does not fully support it; its results are each
 * client's latest tested version. Total: the mean of the listed features' scores (all supported
 * when none is listed).
 */
export function htmlCheck(html: string) {
  const { issues } = caniemail({ clients: ['*'], html });
  const found = new Map<string, FeatureIssue[]>();
  for (const map of [issues.errors, issues.warnings]) {
    for (const list of map.values()) {
      for (const issue of list) {
        const seen = found.get(issue.title) ?? [];
        seen.push(issue);
        found.set(issue.title, seen);
      }
    }
  }
  const warnings = rawData.data
    .filter((feature) => found.has(feature.title))
    .map((feature) => {
      const results = latestResults(feature.stats as unknown as Stats);
      const count = (level: Support) => results.filter((r) => r.Support === level).length;
      const positions = new Set(
        (found.get(feature.title) ?? []).map(
          (i) => `${String(i.position?.start.line)}:${String(i.position?.start.column)}`,
        ),
      );
      return {
        Slug: feature.slug,
        Title: feature.title,
        Description: feature.description ?? '',
        Category: feature.category === 'css' ? 'css' : 'html',
        Keywords: feature.keywords ?? '',
        Tags: [] as string[],
        URL: feature.url,
        NotesByNumber: feature.notes_by_num ?? {},
        Results: results.filter((r) => r.Support !== 'yes'),
        Score: {
          Found: positions.size,
          Supported: percent(count('yes'), results.length),
          Partial: percent(count('partial'), results.length),
          Unsupported: percent(count('no'), results.length),
        },
      };
    });
  const platforms: Record<string, string[]> = {};
  for (const feature of rawData.data) {
    for (const [family, byPlatform] of Object.entries(feature.stats as unknown as Stats)) {
      for (const platform of Object.keys(byPlatform)) {
        const names = (platforms[platform] ??= []);
        if (!names.includes(familyName(family))) names.push(familyName(family));
      }
    }
  }
  return {
    Platforms: platforms,
    Total: {
      Nodes: (html.match(/<[a-z][^>]*>/gi) ?? []).length,
      Tests: rawData.data.length,
      Supported: mean(
        warnings.map((w) => w.Score.Supported),
        100,
      ),
      Partial: mean(
        warnings.map((w) => w.Score.Partial),
        0,
      ),
      Unsupported: mean(
        warnings.map((w) => w.Score.Unsupported),
        0,
      ),
    },
    Warnings: warnings,
  };
}
