package protocol

import (
	"fmt"
	"strings"
)

// negotiate implements [Negotiate]. It follows Elixir's Version.parse and
// Version.match?(vsn, "~> X.0.0"), which Phoenix uses: the vsn must be
// MAJOR.MINOR.PATCH without leading zeros, optionally followed by
// -PRE and +BUILD (dot-separated [0-9A-Za-z-] identifiers, numeric
// pre-release identifiers without leading zeros). "~> X.0.0" means
// >= X.0.0 and < X.1.0-0, so X.0.0-rc (a pre-release of X.0.0) is refused
// while X.0.1-rc is accepted.
func negotiate(vsn string) (Serializer, error) {
	if vsn == "" {
		return V1, nil
	}
	v, ok := parseVersion(vsn)
	if ok && v.minor == "0" && (v.patch != "0" || !v.pre) {
		switch v.major {
		case "1":
			return V1, nil
		case "2":
			return V2, nil
		}
	}
	return 0, fmt.Errorf("%w %q", ErrUnsupportedVersion, vsn)
}

// version is a parsed semantic version. The numbers are kept as their
// digits (no leading zeros), so that huge numbers cannot overflow.
type version struct {
	major, minor, patch string
	pre                 bool // has a pre-release part
}

func parseVersion(s string) (version, bool) {
	var v version
	s, build, hasBuild := strings.Cut(s, "+")
	s, pre, hasPre := strings.Cut(s, "-")
	if hasBuild && !validIdentifiers(build, false) || hasPre && !validIdentifiers(pre, true) {
		return v, false
	}
	v.pre = hasPre
	var rest string
	var ok bool
	if v.major, rest, ok = strings.Cut(s, "."); !ok {
		return v, false
	}
	if v.minor, v.patch, ok = strings.Cut(rest, "."); !ok {
		return v, false
	}
	return v, isNumber(v.major) && isNumber(v.minor) && isNumber(v.patch)
}

// isNumber reports whether s is a non-empty string of digits without a
// leading zero.
func isNumber(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validIdentifiers reports whether s is a dot-separated list of non-empty
// [0-9A-Za-z-] identifiers. For a pre-release, numeric identifiers must
// not have leading zeros.
func validIdentifiers(s string, pre bool) bool {
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return false
		}
		numeric := true
		for i := 0; i < len(part); i++ {
			c := part[i]
			switch {
			case '0' <= c && c <= '9':
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '-':
				numeric = false
			default:
				return false
			}
		}
		if pre && numeric && !isNumber(part) {
			return false
		}
	}
	return true
}
