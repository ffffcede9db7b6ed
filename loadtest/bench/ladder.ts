/**
 * @module bench/ladder
 * The benchmark's rate search, the part worth testing apart from the stack it drives.
 */

/**
 * The rate halfway between a passing and a failing one, rounded to two significant figures (rates
 * read like the ladder's: 35,000, not 34,999); undefined when no such rate lies strictly between them.
 */
export function bisect(passed: number, failed: number): number | undefined {
  const mid = (passed + failed) / 2;
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(mid)) - 1);
  const rounded = Math.round(mid / unit) * unit;
  return rounded > passed && rounded < failed ? rounded : undefined;
}
