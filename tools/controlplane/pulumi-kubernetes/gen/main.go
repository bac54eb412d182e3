// Command gen writes schema-embed.json and terraform-mapping-embed.json into the current
// folder from the pinned provider module's cmd/pulumi-resource-kubernetes, as that
// folder's generate.go does at release time: the schema with its version set to $VERSION,
// both re-serialized compactly.
package main

import (
	"encoding/json"
	"log"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const module = "github.com/pulumi/pulumi-kubernetes/provider/v4"

func main() {
	version := os.Getenv("VERSION")
	if version == "" {
		log.Fatal("VERSION is not set")
	}
	// `go mod download` (not `go list -m`, which leaves Dir empty on a cold module cache)
	// fetches the pinned module if it is not there yet and says where it is.
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		log.Fatalf("go mod download %s: %v", module, err)
	}
	var downloaded struct{ Dir string }
	if err := json.Unmarshal(out, &downloaded); err != nil || downloaded.Dir == "" {
		log.Fatalf("go mod download %s: no folder in %q (%v)", module, out, err)
	}
	dir := filepath.Join(downloaded.Dir, "cmd", "pulumi-resource-kubernetes")

	var spec schema.PackageSpec
	read(filepath.Join(dir, "schema.json"), &spec)
	spec.Version = version
	write("schema-embed.json", spec)

	var mapping any
	read(filepath.Join(dir, "terraform-mapping.json"), &mapping)
	write("terraform-mapping-embed.json", mapping)
}

func read(path string, into any) {
	contents, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(contents, into); err != nil {
		log.Fatalf("cannot deserialize %s: %v", path, err)
	}
}

func write(path string, value any) {
	contents, err := json.Marshal(value)
	if err != nil {
		log.Fatalf("cannot serialize %s: %v", path, err)
	}
	if err := os.WriteFile(path, contents, 0o600); err != nil {
		log.Fatal(err)
	}
}
