package protocol

// Encoding helpers shared by the JSON serializers.

// appendRef appends r as JSON: its text, or null.
func appendRef(dst []byte, r Ref) []byte {
	if r.IsNull() {
		return append(dst, "null"...)
	}
	return append(dst, r...)
}

// appendStatus appends a reply status as a JSON string. An empty status is
// null, which is what Phoenix sends for a reply without a status.
func appendStatus(dst []byte, status string) []byte {
	if status == "" {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, status)
}

// appendReplyPayload appends the phx_reply payload
// {"status":S,"response":R}. The response must be JSON.
func appendReplyPayload(dst []byte, r *Reply) []byte {
	dst = append(dst, `{"status":`...)
	dst = appendStatus(dst, r.Status)
	dst = append(dst, `,"response":`...)
	dst = append(dst, r.Response.Bytes()...)
	return append(dst, '}')
}

// appendTopic appends a topic: a JSON string, or, for a topic that arrived
// as another JSON value (raw), its JSON text as it was sent.
func appendTopic(dst []byte, topic string, raw bool) []byte {
	if raw {
		return append(dst, topic...)
	}
	return appendJSONString(dst, topic)
}

// textField reads the JSON value v of a topic or event: the string's
// value, or for any other JSON value its text, with raw set. Phoenix does
// not check these types; a topic that is not a string matches no channel.
func textField(v string) (s string, raw, ok bool) {
	if len(v) > 0 && v[0] == '"' {
		s, ok = unquote(v)
		return s, false, ok
	}
	return v, true, true
}
