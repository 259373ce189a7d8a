// Reads JSON lines {"p": pattern, "in": [inputs]} and writes {"ok": bool, "err": string, "m": [bool]}:
// Go's regexp (what istiod validates with), full-match as Envoy's RE2::FullMatch.
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"regexp/syntax"
)

type req struct {
	P  string   `json:"p"`
	In []string `json:"in"`
}

type resp struct {
	Ok  bool   `json:"ok"`
	Err string `json:"err,omitempty"`
	M   []bool `json:"m"`
}

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for sc.Scan() {
		var r req
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			panic(err)
		}
		res := resp{M: []bool{}}
		if _, err := regexp.Compile(r.P); err != nil {
			res.Err = err.Error()
		} else {
			res.Ok = true
			// Anchor the parsed tree, not the text: a pattern ending in an open \Q would swallow a text wrapper.
			tree, _ := syntax.Parse(r.P, syntax.Perl)
			wrapped := &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{{Op: syntax.OpBeginText}, tree, {Op: syntax.OpEndText}}}
			full := regexp.MustCompile(wrapped.String())
			for _, s := range r.In {
				res.M = append(res.M, full.MatchString(s))
			}
		}
		_ = out.Encode(res)
	}
}
