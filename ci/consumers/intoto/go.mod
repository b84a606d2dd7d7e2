module builder.test/intoto-check

go 1.24

require (
	github.com/in-toto/attestation v1.1.2
	google.golang.org/protobuf v1.36.12
)
