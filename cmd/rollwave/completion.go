package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

var completionCommand = command{
	name:    "completion",
	summary: "print the shell completion script for bash, zsh or fish",
	usage:   "(bash | zsh | fish)",
	help: `
Prints a script that completes rollwave's commands and flags in the shell named: a script,
not a result, so it has no output formats.

Examples:
  source <(rollwave completion bash)                       # in ~/.bashrc
  rollwave completion zsh > "${fpath[1]}/_rollwave"        # or: source <(rollwave completion zsh)
  rollwave completion fish > ~/.config/fish/completions/rollwave.fish
`,
	run: runCompletion,
}

func runCompletion(ctx context.Context, a *app, c command, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	args, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("%s needs one shell: bash, zsh or fish", c.name)
	}
	words := completionWords()
	switch args[0] {
	case "bash":
		return writeBash(a.stdout, "_rollwave", words)
	case "zsh":
		// zsh runs the bash function through bashcompinit. Installed in $fpath as _rollwave, the
		// file is the body of the autoloaded _rollwave, run on the first Tab: the bash function
		// has a name of its own, so that the body defines it and then completes that Tab too.
		fmt.Fprintln(a.stdout, "#compdef rollwave\n# zsh runs the bash completion through bashcompinit.\nautoload -U +X bashcompinit && bashcompinit")
		if err := writeBash(a.stdout, "__rollwave_bash", words); err != nil {
			return err
		}
		_, err := fmt.Fprintln(a.stdout, "# Autoloaded from $fpath (this file is _rollwave), complete the Tab that loaded it.\n"+
			"if [[ ${funcstack[1]-} == _rollwave ]]; then _bash_complete -F __rollwave_bash; fi")
		return err
	case "fish":
		return writeFish(a.stdout, words)
	}
	return usagef("%s: no shell %q: bash, zsh or fish", c.name, args[0])
}

// completion is what may follow a command path ("" is the top level, "jobs", "jobs list").
type completion struct {
	path  string
	words []string // sub-commands, then flags
}

// completionWords derives every completion from the command table and each command's flags.
func completionWords() []completion {
	subs := map[string][]string{}
	flagsAt := map[string][]string{}
	for _, c := range commands {
		parts := strings.Fields(c.name)
		for i := range parts {
			parent := strings.Join(parts[:i], " ")
			if !contains(subs[parent], parts[i]) {
				subs[parent] = append(subs[parent], parts[i])
			}
		}
		flagsOf(c).VisitAll(func(f *flag.Flag) { flagsAt[c.name] = append(flagsAt[c.name], flagName(f.Name)) })
	}
	subs[""] = append(subs[""], "help")
	var global []string
	for name := range globalNames {
		global = append(global, flagName(name))
	}
	flagsAt[""] = append(global, "--version")
	paths := map[string]bool{}
	for p := range subs {
		paths[p] = true
	}
	for p := range flagsAt {
		paths[p] = true
	}
	var out []completion
	for p := range paths {
		words := append(append([]string(nil), subs[p]...), flagsAt[p]...)
		sort.Strings(words)
		out = append(out, completion{path: p, words: words})
	}
	// Longest path first: the shells take the first pattern that matches.
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].path) != len(out[j].path) {
			return len(out[i].path) > len(out[j].path)
		}
		return out[i].path < out[j].path
	})
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeBash writes a bash completion function named fn: the words typed so far that are not
// flags name the command (a flag's value is a word too, so a path matches as a prefix). The
// slice's length is an arithmetic expansion: zsh, which runs it through bashcompinit, reads a
// bare COMP_CWORD-1 there as a history modifier.
func writeBash(w io.Writer, fn string, words []completion) error {
	var b strings.Builder
	b.WriteString(`# bash completion for rollwave (rollwave completion bash)
` + fn + `() {
  local cur="${COMP_WORDS[COMP_CWORD]}" path="" w
  for w in "${COMP_WORDS[@]:1:$((COMP_CWORD-1))}"; do
    case "$w" in -*) ;; *) path="${path:+$path }$w" ;; esac
  done
  local words=""
  case "$path" in
`)
	for _, c := range words {
		pattern := `""`
		if c.path != "" {
			pattern = fmt.Sprintf("%q|%q*", c.path, c.path+" ")
		}
		fmt.Fprintf(&b, "    %s) words=%q ;;\n", pattern, strings.Join(c.words, " "))
	}
	b.WriteString(`  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F ` + fn + ` rollwave
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFish writes fish completions: each word offered once the words of its path are seen.
func writeFish(w io.Writer, words []completion) error {
	var b strings.Builder
	b.WriteString("# fish completion for rollwave (rollwave completion fish)\ncomplete -c rollwave -f\n")
	for _, c := range words {
		cond := "__fish_use_subcommand"
		if c.path != "" {
			var seen []string
			for _, p := range strings.Fields(c.path) {
				seen = append(seen, "__fish_seen_subcommand_from "+p)
			}
			cond = strings.Join(seen, "; and ")
		}
		for _, word := range c.words {
			switch {
			case strings.HasPrefix(word, "--"):
				fmt.Fprintf(&b, "complete -c rollwave -n '%s' -l %s\n", cond, strings.TrimPrefix(word, "--"))
			case strings.HasPrefix(word, "-"):
				fmt.Fprintf(&b, "complete -c rollwave -n '%s' -s %s\n", cond, strings.TrimPrefix(word, "-"))
			default:
				fmt.Fprintf(&b, "complete -c rollwave -n '%s' -a %s\n", cond, word)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
