package loadgen

// A small JSON scanner for presence payloads: the presence command reads
// only the keys of objects, thousands of them per frame on thousands of
// clients, so it walks the bytes in place rather than decoding them.

// skipString returns the index after the string at b[i] ('"').
func skipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return len(b), false
}

// skipValue returns the index after the JSON value at b[i].
func skipValue(b []byte, i int) (int, bool) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				k, ok := skipString(b, j)
				if !ok {
					return k, false
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, true
				}
			}
		}
		return len(b), false
	}
	j := i // a number, true, false or null
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' {
		j++
	}
	return j, j > i
}

// eachMember calls fn with each key of the object at b[i] (raw, without
// quotes or unescaping) and the index of its value; fn returns the index
// after the value. It returns the index after the object.
func eachMember(b []byte, i int, fn func(key []byte, value int) (int, bool)) (int, bool) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return i, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		end, ok := skipString(b, i)
		if !ok {
			return end, false
		}
		key := b[i+1 : end-1]
		j := skipSpace(b, end)
		if j >= len(b) || b[j] != ':' {
			return j, false
		}
		if i, ok = fn(key, skipSpace(b, j+1)); !ok {
			return i, false
		}
		i = skipSpace(b, i)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// eachKey calls fn with each key of the object at b[i].
func eachKey(b []byte, i int, fn func(key []byte)) (int, bool) {
	return eachMember(b, i, func(key []byte, v int) (int, bool) {
		fn(key)
		return skipValue(b, v)
	})
}
