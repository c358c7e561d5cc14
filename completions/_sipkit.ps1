
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'sipkit' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'sipkit'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'sipkit' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors: no warnings, no summary. The exit status still tells the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors: no warnings, no summary. The exit status still tells the result')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code')
            [CompletionResult]::new('decode-pcap', 'decode-pcap', [CompletionResultType]::ParameterValue, 'List the SIP and MSRP messages in a packet capture, group them into calls, draw call flows, count them, extract MSRP files')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sipkit;validate' {
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'Treat every input as this kind instead of detecting it from the first line (`MSRP ` starts an MSRP message, `v=` or `m=` an SDP body, anything else is SIP)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings as errors')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors: no warnings, no summary. The exit status still tells the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors: no warnings, no summary. The exit status still tells the result')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sipkit;decode-pcap' {
            [CompletionResult]::new('--flow', '--flow', [CompletionResultType]::ParameterName, 'Draw a ladder diagram of each call, or only of the call with this Call-ID (`--flow=CALL-ID`)')
            [CompletionResult]::new('--extract', '--extract', [CompletionResultType]::ParameterName, 'Write every reassembled MSRP message or file into DIR (which must exist), named from its SDP file-selector when known; existing files are never overwritten')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write the packets that carried the matching messages to a new pcap file')
            [CompletionResult]::new('--call-id', '--call-id', [CompletionResultType]::ParameterName, 'Keep only messages with this Call-ID (MSRP: of the call whose SDP set up the session)')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'Keep only requests with this method, or responses to it (by CSeq), e.g. `INVITE,BYE`')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Keep only responses with this status: a code (`486`) or a class (`4xx`)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Keep only messages from or to this address: `IP`, `IP:PORT` or `[IPv6]:PORT`')
            [CompletionResult]::new('--grep', '--grep', [CompletionResultType]::ParameterName, 'Keep only messages whose text (start line, header fields, body) matches this regular expression')
            [CompletionResult]::new('--transport', '--transport', [CompletionResultType]::ParameterName, 'Keep only messages carried over this transport')
            [CompletionResult]::new('--max-stream-buffer', '--max-stream-buffer', [CompletionResultType]::ParameterName, 'Most bytes buffered per TCP stream direction while waiting for the end of a message; a message larger than this is dropped and reported. Accepts K, M and G suffixes')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR')
            [CompletionResult]::new('--full', '--full', [CompletionResultType]::ParameterName, 'Print each message whole (start line, header fields, body) after its summary line')
            [CompletionResult]::new('--calls', '--calls', [CompletionResultType]::ParameterName, 'Print one row per call (INVITE dialog) instead of one per message: start, from, to, state, setup times, duration, message count')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counts per method and response code, retransmissions, calls attempted, answered and failed, answer-seizure ratio and setup times, instead of the messages')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors: no warnings, no summary. The exit status still tells the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors: no warnings, no summary. The exit status still tells the result')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sipkit;help' {
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code')
            [CompletionResult]::new('decode-pcap', 'decode-pcap', [CompletionResultType]::ParameterValue, 'List the SIP and MSRP messages in a packet capture, group them into calls, draw call flows, count them, extract MSRP files')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sipkit;help;validate' {
            break
        }
        'sipkit;help;decode-pcap' {
            break
        }
        'sipkit;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
