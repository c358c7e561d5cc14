
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
            cand decode-pcap 'List the SIP and MSRP messages in a packet capture, group them into calls, draw call flows, count them, extract MSRP files'
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
        &'sipkit;decode-pcap'= {
            cand --flow 'Draw a ladder diagram of each call, or only of the call with this Call-ID (`--flow=CALL-ID`)'
            cand --extract 'Write every reassembled MSRP message or file into DIR (which must exist), named from its SDP file-selector when known; existing files are never overwritten'
            cand --write 'Write the packets that carried the matching messages to a new pcap file'
            cand --call-id 'Keep only messages with this Call-ID (MSRP: of the call whose SDP set up the session)'
            cand --method 'Keep only requests with this method, or responses to it (by CSeq), e.g. `INVITE,BYE`'
            cand --status 'Keep only responses with this status: a code (`486`) or a class (`4xx`)'
            cand --host 'Keep only messages from or to this address: `IP`, `IP:PORT` or `[IPv6]:PORT`'
            cand --grep 'Keep only messages whose text (start line, header fields, body) matches this regular expression'
            cand --transport 'Keep only messages carried over this transport'
            cand --max-stream-buffer 'Most bytes buffered per TCP stream direction while waiting for the end of a message; a message larger than this is dropped and reported. Accepts K, M and G suffixes'
            cand --format 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)'
            cand --color 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR'
            cand --full 'Print each message whole (start line, header fields, body) after its summary line'
            cand --calls 'Print one row per call (INVITE dialog) instead of one per message: start, from, to, state, setup times, duration, message count'
            cand --stats 'Print counts per method and response code, retransmissions, calls attempted, answered and failed, answer-seizure ratio and setup times, instead of the messages'
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
            cand decode-pcap 'List the SIP and MSRP messages in a packet capture, group them into calls, draw call flows, count them, extract MSRP files'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sipkit;help;validate'= {
        }
        &'sipkit;help;decode-pcap'= {
        }
        &'sipkit;help;help'= {
        }
    ]
    $completions[$command]
}
