# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sipkit_global_optspecs
    string join \n format= color= q/quiet v/verbose h/help V/version
end

function __fish_sipkit_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sipkit_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sipkit_using_subcommand
    set -l cmd (__fish_sipkit_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sipkit -n "__fish_sipkit_needs_command" -l format -d 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)' -r -f -a "human\t'Compiler-style diagnostics with source excerpts and a summary'
json\t'JSON Lines: one object per message and a final summary object'
github\t'GitHub Actions workflow commands (`::error file=...::...`); validate only'"
complete -c sipkit -n "__fish_sipkit_needs_command" -l color -d 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is not set'
always\t'Always colour, even into a pipe or file'
never\t'Never colour'"
complete -c sipkit -n "__fish_sipkit_needs_command" -s q -l quiet -d 'Print only errors: no warnings, no summary. The exit status still tells the result'
complete -c sipkit -n "__fish_sipkit_needs_command" -s v -l verbose -d 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
complete -c sipkit -n "__fish_sipkit_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipkit -n "__fish_sipkit_needs_command" -s V -l version -d 'Print version'
complete -c sipkit -n "__fish_sipkit_needs_command" -f -a "validate" -d 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code'
complete -c sipkit -n "__fish_sipkit_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l kind -d 'Treat every input as this kind instead of detecting it from the first line (`MSRP ` starts an MSRP message, `v=` or `m=` an SDP body, anything else is SIP)' -r -f -a "sip\t'A SIP request or response (RFC 3261), with its SDP body if any'
sdp\t'An SDP session description (RFC 8866)'
msrp\t'An MSRP request or response (RFC 4975)'"
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l format -d 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)' -r -f -a "human\t'Compiler-style diagnostics with source excerpts and a summary'
json\t'JSON Lines: one object per message and a final summary object'
github\t'GitHub Actions workflow commands (`::error file=...::...`); validate only'"
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l color -d 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is not set'
always\t'Always colour, even into a pipe or file'
never\t'Never colour'"
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l strict -d 'Treat warnings as errors'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -s q -l quiet -d 'Print only errors: no warnings, no summary. The exit status still tells the result'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -s v -l verbose -d 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -s V -l version -d 'Print version'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate help" -f -a "validate" -d 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
