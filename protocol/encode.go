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
