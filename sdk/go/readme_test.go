package whitebox_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// exampleBodies maps each Example function of example_test.go to its body as a reader copies
// it: the lines between the braces, one tab of indentation removed.
func exampleBodies(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "example_test.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{}
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fn.Name.Name, "Example") {
			continue
		}
		inner := string(src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset])
		lines := strings.Split(strings.Trim(inner, "\n"), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "\t")
		}
		bodies[fn.Name.Name] = strings.Join(lines, "\n") + "\n"
	}
	return bodies
}

// goBlocks are the ```go blocks of text.
func goBlocks(text string) []string {
	var blocks []string
	for {
		start := strings.Index(text, "\n```go\n")
		if start < 0 {
			return blocks
		}
		text = text[start+len("\n```go\n"):]
		end := strings.Index(text, "\n```")
		if end < 0 {
			return blocks
		}
		blocks = append(blocks, text[:end+1])
		text = text[end:]
	}
}

// section is the part of a Markdown text from the heading title to the next heading of the
// same level, or "".
func section(text, title string) string {
	start := strings.Index(text, "\n"+title+"\n")
	if start < 0 {
		return ""
	}
	rest := text[start+len(title)+2:]
	level := title[:strings.IndexByte(title, ' ')+1]
	if end := strings.Index(rest, "\n"+level); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// TestReadmeExamplesAreTheExamples: every Go block of sdk/go/README.md, and of the "From Go"
// section of the project's README once it has one, is the body of an Example function,
// exactly, so the examples a reader copies are the ones `go test` runs.
func TestReadmeExamplesAreTheExamples(t *testing.T) {
	bodies := exampleBodies(t)
	known := map[string]string{}
	for name, body := range bodies {
		known[body] = name
	}
	check := func(path, text string, atLeast int) {
		blocks := goBlocks(text)
		if len(blocks) < atLeast {
			t.Errorf("%s: %d Go blocks, want at least %d", path, len(blocks), atLeast)
		}
		for _, b := range blocks {
			if _, ok := known[b]; !ok {
				t.Errorf("%s: this Go block is not the body of an Example in example_test.go:\n%s", path, b)
			}
		}
	}
	own, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	check("sdk/go/README.md", string(own), 2)
	topPath := "../../README.md"
	if p := os.Getenv("WB_GO_PROJECT_README"); p != "" {
		topPath = p // to check a proposed README before it lands
	}
	top, err := os.ReadFile(topPath)
	if err != nil {
		t.Fatal(err)
	}
	if s := section(string(top), "## From Go"); s != "" {
		check(topPath+", section \"From Go\"", s, 1)
	} else if os.Getenv("WB_GO_PROJECT_README") != "" {
		t.Errorf("%s has no \"## From Go\" section", topPath)
	}
}
