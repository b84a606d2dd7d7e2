// intoto-check reads in-toto attestation statements the way the reference implementation
// (github.com/in-toto/attestation, Go) does: strict protojson (unknown fields are errors), the
// Statement's and every ResourceDescriptor's Validate (digests must be hex of the right
// length), and, for SLSA Provenance v1 predicates, the predicate's own Validate.
//
//	intoto-check FILE...
//
// Prints "ok FILE" per valid file; exits 1 with the first error otherwise.
package main

import (
	"fmt"
	"os"

	ita "github.com/in-toto/attestation/go/v1"
	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

const provenanceV1 = "https://slsa.dev/provenance/v1"

func check(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	strict := protojson.UnmarshalOptions{DiscardUnknown: false}
	var st ita.Statement
	if err := strict.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	if err := st.Validate(); err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	if st.GetPredicateType() != provenanceV1 {
		return fmt.Errorf("predicateType %q, expected %q", st.GetPredicateType(), provenanceV1)
	}
	raw, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return fmt.Errorf("predicate: %w", err)
	}
	var p slsa.Provenance
	if err := strict.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("SLSA provenance v1: %w", err)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("SLSA provenance v1: %w", err)
	}
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: intoto-check FILE...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		fmt.Printf("ok %s\n", path)
	}
}
