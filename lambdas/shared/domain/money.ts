// Amounts for people: minor units as the currency writes them, in messages of the domain and the operator CLI alike.

/** Minor units as the currency writes them (2 decimals for EUR, none for JPY) with its code: `35.00 EUR`. */
export function money(amount: number, currency: string): string {
  const code = currency.toUpperCase();
  let digits = 2;
  try {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    // Not a code Intl knows: shown with two decimals, as most are.
  }
  return `${(amount / 10 ** digits).toFixed(digits)} ${code}`;
}
