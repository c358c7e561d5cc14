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
complete -c sipkit -n "__fish_sipkit_needs_command" -f -a "decode-pcap" -d 'List the SIP and MSRP messages in a packet capture, group them into calls, draw call flows, count them, extract MSRP files'
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
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l flow -d 'Draw a ladder diagram of each call, or only of the call with this Call-ID (`--flow=CALL-ID`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l extract -d 'Write every reassembled MSRP message or file into DIR (which must exist), named from its SDP file-selector when known; existing files are never overwritten' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l write -d 'Write the packets that carried the matching messages to a new pcap file' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l call-id -d 'Keep only messages with this Call-ID (MSRP: of the call whose SDP set up the session)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l method -d 'Keep only requests with this method, or responses to it (by CSeq), e.g. `INVITE,BYE`' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l status -d 'Keep only responses with this status: a code (`486`) or a class (`4xx`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l host -d 'Keep only messages from or to this address: `IP`, `IP:PORT` or `[IPv6]:PORT`' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l grep -d 'Keep only messages whose text (start line, header fields, body) matches this regular expression' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l transport -d 'Keep only messages carried over this transport' -r -f -a "udp\t'UDP datagrams (also HEP-encapsulated ones)'
tcp\t'TCP streams'
ws\t'WebSocket messages (RFC 7118)'"
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l max-stream-buffer -d 'Most bytes buffered per TCP stream direction while waiting for the end of a message; a message larger than this is dropped and reported. Accepts K, M and G suffixes' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l format -d 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)' -r -f -a "human\t'Compiler-style diagnostics with source excerpts and a summary'
json\t'JSON Lines: one object per message and a final summary object'
github\t'GitHub Actions workflow commands (`::error file=...::...`); validate only'"
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l color -d 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is not set'
always\t'Always colour, even into a pipe or file'
never\t'Never colour'"
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l full -d 'Print each message whole (start line, header fields, body) after its summary line'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l calls -d 'Print one row per call (INVITE dialog) instead of one per message: start, from, to, state, setup times, duration, message count'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l stats -d 'Print counts per method and response code, retransmissions, calls attempted, answered and failed, answer-seizure ratio and setup times, instead of the messages'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -s q -l quiet -d 'Print only errors: no warnings, no summary. The exit status still tells the result'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -s v -l verbose -d 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -s V -l version -d 'Print version'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate decode-pcap help" -f -a "validate" -d 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate decode-pcap help" -f -a "decode-pcap" -d 'List the SIP and MSRP messages in a packet capture, group them into calls, draw call flows, count them, extract MSRP files'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate decode-pcap help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
