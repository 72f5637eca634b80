/** The page numbers to show, 0 standing for a gap: pure, so it is tested as a table. */
export function pageNumbers(current: number, count: number, around = 2): number[] {
  const pages: number[] = [];
  for (let page = 1; page <= count; page++) {
    if (page === 1 || page === count || Math.abs(page - current) <= around) pages.push(page);
    else if (pages[pages.length - 1] !== 0) pages.push(0);
  }
  return pages;
}
