
use builtin;
use str;

set edit:completion:arg-completer[sipkit] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'sipkit'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'sipkit'= {
            cand --format 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)'
            cand --color 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR'
            cand -q 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand --quiet 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand -v 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand --verbose 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand validate 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sipkit;validate'= {
            cand --kind 'Treat every input as this kind instead of detecting it from the first line (`MSRP ` starts an MSRP message, `v=` or `m=` an SDP body, anything else is SIP)'
            cand --format 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)'
            cand --color 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR'
            cand --strict 'Treat warnings as errors'
            cand -q 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand --quiet 'Print only errors: no warnings, no summary. The exit status still tells the result'
            cand -v 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand --verbose 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'sipkit;help'= {
            cand validate 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sipkit;help;validate'= {
        }
        &'sipkit;help;help'= {
        }
    ]
    $completions[$command]
}
