package enrich

import "strings"

// maxDecimalExponent bounds the exponent of a decimal parameter. Java's
// BigDecimal accepts any 32-bit exponent, and "1E999999999" would render
// as a billion digits; no money amount or event value needs more than a
// few hundred, so larger exponents are refused as not a decimal.
const maxDecimalExponent = 400

// decimalString reads v as java.math.BigDecimal's string constructor does
// (optional sign, digits with an optional point, optional e/E exponent; no
// spaces, no NaN or Infinity) and renders it as Snowplow enrich stores
// decimal atomic fields: a negative scale is set to 0 (no exponent for
// whole numbers) and the result is BigDecimal.toString — plain notation,
// the sent scale kept, except that values whose adjusted exponent is
// below -6 use E notation. EnrichmentManagerSpec's "create an
// EnrichedEvent with correct BigDecimal field values" lists the cases:
// 42 → 42, 42.5 → 42.5, 1E7 → 10000000, 1.2E9 → 1200000000,
// 0.000001 → 0.000001, 0.0000001 → 1E-7.
func decimalString(v string) (string, bool) {
	i := 0
	neg := false
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		neg = v[i] == '-'
		i++
	}
	var digits []byte
	frac, nd := 0, 0
	point := false
	for ; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			nd++
			if point {
				frac++
			}
			if c != '0' || len(digits) > 0 {
				digits = append(digits, c)
			}
			continue
		case c == '.' && !point:
			point = true
			continue
		}
		break
	}
	if nd == 0 {
		return "", false
	}
	exp := 0
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		eneg := false
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			eneg = v[i] == '-'
			i++
		}
		start := i
		for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
			exp = exp*10 + int(v[i]-'0')
			if exp > maxDecimalExponent+len(v) {
				return "", false
			}
		}
		if i == start {
			return "", false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(v) {
		return "", false
	}
	scale := frac - exp
	if scale > maxDecimalExponent+len(v) || scale < -maxDecimalExponent {
		return "", false
	}
	if len(digits) == 0 {
		digits = []byte{'0'}
		neg = false // BigDecimal has no negative zero
	}
	if scale < 0 { // setScale(0): whole numbers without an exponent
		if digits[0] != '0' {
			digits = append(digits, strings.Repeat("0", -scale)...)
		}
		scale = 0
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	adjusted := len(digits) - 1 - scale
	switch {
	case scale == 0:
		b.Write(digits)
	case adjusted >= -6:
		if pad := scale + 1 - len(digits); pad > 0 {
			digits = append([]byte(strings.Repeat("0", pad)), digits...)
		}
		b.Write(digits[:len(digits)-scale])
		b.WriteByte('.')
		b.Write(digits[len(digits)-scale:])
	default:
		b.WriteByte(digits[0])
		if len(digits) > 1 {
			b.WriteByte('.')
			b.Write(digits[1:])
		}
		b.WriteString("E-")
		b.WriteString(itoa(-adjusted))
	}
	return b.String(), true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
