package main

import (
	"encoding/json"
	"net/http"

	"github.com/slicedns/slicedns/dns"
)

// explainHandler serves GET /explain?name=NAME: the explanation that
// `slicedns explain` prints, as JSON. Explaining is read-only and costs
// about one query per record type plus a walk of the Service's slices.
func explainHandler(explain func(name string) *dns.Explanation) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			http.Error(w, "missing ?name=NAME", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(explain(name))
	}
}
