// Command pulumi-resource-kubernetes serves the Pulumi Kubernetes provider.
//
// The module zip of github.com/pulumi/pulumi-kubernetes/provider/v4 lacks the two files its
// own main package embeds (they are generated at release time), so this package embeds its
// own copies, written by `go run ./gen` from the module's schema.json and
// terraform-mapping.json (tools/controlplane/build.sh runs it in a build copy).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
