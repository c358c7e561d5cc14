
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
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Answer SIP requests as a user agent server, printing each message as it comes')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send one SIP request and report what came back (OPTIONS unless METHOD is given)')
            [CompletionResult]::new('invite', 'invite', [CompletionResultType]::ParameterValue, 'Place a call: INVITE with an SDP offer, then ACK, and BYE when done')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sipkit;validate' {
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'Treat every input as this kind instead of detecting it from the first line (`MSRP ` starts an MSRP message, `v=` or `m=` an SDP body) or, failing that, from a `.sdp` or `.msrp` file name; anything else is SIP')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Largest input read, in bytes (K, M and G suffixes); a larger one is not checked and is an input error (`input.too-large`, exit status 2). Standard input, FIFOs and devices named on the command line are read up to this size, never further')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Report these departures from the RFCs as warnings instead of errors (comma-separated or repeated), for files written by editors and tools rather than sent on the wire')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `human` for people, `json` for machines, `github` for GitHub Actions annotations (only `human` is ever coloured)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings as errors')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors: no warnings, no valid messages, no summary. The exit status still tells the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors: no warnings, no valid messages, no summary. The exit status still tells the result')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sipkit;decode-pcap' {
            [CompletionResult]::new('--flow', '--flow', [CompletionResultType]::ParameterName, 'Draw a ladder diagram of each call, or only of the call with this Call-ID (`--flow=CALL-ID`, with `=`: after a space the value would be the file)')
            [CompletionResult]::new('--extract', '--extract', [CompletionResultType]::ParameterName, 'Write every reassembled MSRP message or file into DIR (which must exist), named from the SDP file-selector that describes it (same size, type and hash), else from its Message-ID; a message the capture leaves unfinished is written as NAME.partial. Existing files are never overwritten')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write the packets that carried the matching messages to a new pcap file (for WebSocket, with the packets of the connection''s HTTP upgrade, so the file decodes again)')
            [CompletionResult]::new('--call-id', '--call-id', [CompletionResultType]::ParameterName, 'Keep only messages with this Call-ID (MSRP: of the call whose SDP set up the session)')
            [CompletionResult]::new('--method', '--method', [CompletionResultType]::ParameterName, 'Keep only requests with this method, or responses to it (by CSeq), e.g. `INVITE,BYE`')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Keep only responses with this status: a code (`486`) or a class (`4xx`)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Keep only messages from or to this address: `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT` (without a port: any port)')
            [CompletionResult]::new('--grep', '--grep', [CompletionResultType]::ParameterName, 'Keep only messages whose text (start line, header fields, body) matches this regular expression')
            [CompletionResult]::new('--problems', '--problems', [CompletionResultType]::ParameterName, 'Keep only messages with a diagnostic (a malformed message, a cut-off one, a field that does not parse); `--problems=error` keeps only those with an error')
            [CompletionResult]::new('--transport', '--transport', [CompletionResultType]::ParameterName, 'Keep only messages carried over this transport')
            [CompletionResult]::new('--max-stream-buffer', '--max-stream-buffer', [CompletionResultType]::ParameterName, 'Most bytes buffered per TCP stream direction while waiting for the end of a message; a message larger than this is dropped and reported. Accepts K, M and G suffixes')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `human` for people, `json` for machines (never coloured)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR')
            [CompletionResult]::new('--full', '--full', [CompletionResultType]::ParameterName, 'Print each message whole (start line, header fields, body) after its summary line')
            [CompletionResult]::new('--calls', '--calls', [CompletionResultType]::ParameterName, 'Print one row per call (INVITE dialog) instead of one per message: start, from, to, state, setup times (on the leg where the INVITE was first seen), duration, message count')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print counts per method and response code, retransmissions (a message repeated on the same hop), calls attempted, answered and failed, answer-seizure ratio and setup times, instead of the messages')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Match --grep without regard to case (`(?i)` in the expression does the same)')
            [CompletionResult]::new('--ignore-case', '--ignore-case', [CompletionResultType]::ParameterName, 'Match --grep without regard to case (`(?i)` in the expression does the same)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Leave out the notices (TCP gaps, dropped bytes, skipped packets, data after the gzip data); messages, summaries and errors are still printed. With --extract, print only the extracted files (and errors)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Leave out the notices (TCP gaps, dropped bytes, skipped packets, data after the gzip data); messages, summaries and errors are still printed. With --extract, print only the extracted files (and errors)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sipkit;listen' {
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Listen for UDP on ADDR (`IP:PORT`, `[IPv6]:PORT`, or `IP` for port 5060); repeatable')
            [CompletionResult]::new('--tcp', '--tcp', [CompletionResultType]::ParameterName, 'Listen for TCP on ADDR; repeatable')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Listen for TLS on ADDR (port 5061 when omitted); needs --cert and --key')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'Listen for SIP over WebSocket (RFC 7118) on ADDR (port 80 when omitted)')
            [CompletionResult]::new('--wss', '--wss', [CompletionResultType]::ParameterName, 'Listen for SIP over secure WebSocket on ADDR (port 443 when omitted); needs --cert and --key')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Server certificate chain (PEM, leaf first) for --tls and --wss')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key (PEM) for --cert')
            [CompletionResult]::new('--msrp', '--msrp', [CompletionResultType]::ParameterName, 'Our MSRP address, put in the a=path of MSRP answers (`IP:PORT`, or `IP` for port 2855; default: the first listening IP, port 2855). Without --msrp, a busy port 2855 only disables MSRP; with it, listen fails')
            [CompletionResult]::new('--accept-types', '--accept-types', [CompletionResultType]::ParameterName, 'Media types accepted in MSRP sessions, comma-separated (`text/plain,image/*`; default `*`). The answer''s a=accept-types is what the offer and this list have in common; other types get 415')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Largest MSRP message accepted, in bytes (a=max-size; larger ones get 413; default 1 GiB)')
            [CompletionResult]::new('--save-dir', '--save-dir', [CompletionResultType]::ParameterName, 'Keep received MSRP files in DIR (created if missing), named from the offer''s a=file-selector name (path removed; control and invisible characters such as bidirectional overrides replaced by _) or else the Message-ID; an existing file is never overwritten. A file appears only once whole and, when the offer gives hash:sha-1, matching it (else it is kept as NAME.part). Without it, file offers are declined with 488 and other content is hashed and dropped')
            [CompletionResult]::new('--reply', '--reply', [CompletionResultType]::ParameterName, 'Answer METHOD with CODE instead of the default, `INVITE=486` or `MESSAGE=403:Go away`; repeatable. CODE is a final status (200-699)')
            [CompletionResult]::new('--ring', '--ring', [CompletionResultType]::ParameterName, 'Ring this long (180 Ringing) before answering an INVITE (`3s`, `500ms`)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Add a header field to every response, `-H ''Name: value''`; repeatable')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Add a header field to every response, `-H ''Name: value''`; repeatable')
            [CompletionResult]::new('--max-expires', '--max-expires', [CompletionResultType]::ParameterName, 'The longest binding a REGISTER is granted, in seconds (default 3600): the 200 says the shorter expiry (RFC 3261 §10.3)')
            [CompletionResult]::new('--min-expires', '--min-expires', [CompletionResultType]::ParameterName, 'The shortest binding a REGISTER may ask for, in seconds (default: none); a shorter one (other than 0) gets 423 Interval Too Brief with Min-Expires (RFC 3261 §10.3)')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'Challenge every request (but ACK and CANCEL) with Digest for this `user:password` (401 for REGISTER, 407 otherwise; wrong credentials get 403); repeatable')
            [CompletionResult]::new('--auth-file', '--auth-file', [CompletionResultType]::ParameterName, 'Read `user:password` lines from FILE (blank lines and `#` comments skipped)')
            [CompletionResult]::new('--auth-alg', '--auth-alg', [CompletionResultType]::ParameterName, 'The algorithms to challenge with, one challenge each, in this order (default: MD5). MD5 alone is what SIPp 3.6, sipsak 0.9.8, sipvicious 0.3 (they answer the first challenge, MD5 only) and baresip 1.0 (fails on any challenge not MD5) accept; linphone 5 answers SHA-256 whenever it is offered. `SHA-256,MD5` is RFC 8760''s order')
            [CompletionResult]::new('--realm', '--realm', [CompletionResultType]::ParameterName, 'The Digest realm (default `sipkit`)')
            [CompletionResult]::new('--nonce-lifetime', '--nonce-lifetime', [CompletionResultType]::ParameterName, 'How long a nonce is accepted; an older one is challenged again with stale=true (default 5 minutes)')
            [CompletionResult]::new('--write-pcap', '--write-pcap', [CompletionResultType]::ParameterName, 'Write every SIP and MSRP message sent and received to FILE as a pcapng capture, with IP/UDP/TCP headers synthesised (TLS and WebSocket messages appear as plain TCP). FILE must not exist: an existing file is a usage error, never overwritten')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit after answering N requests (ACK, CANCEL and retransmissions do not count). MSRP messages still arriving then get up to 5 s to complete and be reported')
            [CompletionResult]::new('--msrp-count', '--msrp-count', [CompletionResultType]::ParameterName, 'Exit after receiving N whole MSRP messages')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Stop after this long (`30s`); with --count or --msrp-count still unmet, exit 3')
            [CompletionResult]::new('--max-message', '--max-message', [CompletionResultType]::ParameterName, 'Largest SIP message accepted, in bytes (default 65536); larger ones are logged and dropped, and a TCP/TLS connection sending one is answered 513 Message Too Large, then closed')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Most TCP/TLS/WebSocket connections open at once, SIP and MSRP each (default 1024); more are closed on accept')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a connection silent for this long (default 5m); a message begun must also finish within 30s, or within this if shorter (slow senders)')
            [CompletionResult]::new('--max-transactions', '--max-transactions', [CompletionResultType]::ParameterName, 'Most SIP server transactions alive at once (default 1000000); new requests beyond get 503 with Retry-After, answered without keeping state')
            [CompletionResult]::new('--max-msrp-sessions', '--max-msrp-sessions', [CompletionResultType]::ParameterName, 'Most MSRP sessions open at once (default 1000); further MSRP offers get 488')
            [CompletionResult]::new('--msrp-bind-timeout', '--msrp-bind-timeout', [CompletionResultType]::ParameterName, 'An answered MSRP session that no MSRP connection binds within this time (its 2xx never ACKed, or the peer never connects) is freed (default 30s; RFC 4975 sets no limit)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `human` for people, `json` for machines (never coloured)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR')
            [CompletionResult]::new('--msrps', '--msrps', [CompletionResultType]::ParameterName, 'Take MSRP over TLS (`TCP/TLS/MSRP`, `msrps:` URIs) with --cert and --key, instead of TCP')
            [CompletionResult]::new('--registrar', '--registrar', [CompletionResultType]::ParameterName, 'Keep REGISTER bindings in memory (with expiry) and list them in the 200 OK; requests to a registered address of record are reported as such')
            [CompletionResult]::new('--full', '--full', [CompletionResultType]::ParameterName, 'Print each message whole, not only its first line')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the listening addresses and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the listening addresses and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sipkit;send' {
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Expires header in seconds (REGISTER default 3600)')
            [CompletionResult]::new('--body', '--body', [CompletionResultType]::ParameterName, 'The body, as given')
            [CompletionResult]::new('--body-file', '--body-file', [CompletionResultType]::ParameterName, 'Read the body from FILE (`-` for standard input)')
            [CompletionResult]::new('--content-type', '--content-type', [CompletionResultType]::ParameterName, 'Content-Type of the body (default application/sdp for INVITE, else text/plain)')
            [CompletionResult]::new('--text', '--text', [CompletionResultType]::ParameterName, 'Send a MESSAGE (RFC 3428) with this text/plain body; METHOD may be omitted')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'Send this whole message written by hand (`-` for standard input). `${name}` is replaced by call_id, branch, from_tag, local_ip, local_port, transport, cseq, target, or a --set variable; an unknown name is an error. Content-Length is fixed up unless --raw')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Define `${NAME}` for --message, `--set NAME=VALUE`; repeat for more')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Load mode: send this many requests in all, each a new call (new Call-ID), to the first destination, and report status counts and latency percentiles instead of each message. Not for INVITE (the calls would stay up: use `sipkit invite`)')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Load mode: start at most this many requests per second (default: as fast as answers come). Needs --count')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Load mode: keep at most this many requests in flight, each on its own socket (default 1). Needs --count')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'Exit 0 only if the final status is one of these (`200,404`, classes like `2xx`)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'From header value (default: `<sip:USER@DOMAIN>` with --user, else `<sip:sipkit@LOCAL_IP>`)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'To header value (default: the Request-URI; for REGISTER the From address)')
            [CompletionResult]::new('--contact', '--contact', [CompletionResultType]::ParameterName, 'Contact header value (default: `<sip:USER@LOCAL_IP:LOCAL_PORT;transport=...>` from the socket''s real address; never added to MESSAGE, RFC 3428 §4)')
            [CompletionResult]::new('--call-id', '--call-id', [CompletionResultType]::ParameterName, 'Call-ID (default: random)')
            [CompletionResult]::new('--cseq', '--cseq', [CompletionResultType]::ParameterName, 'CSeq number of the first request (default 1); an authenticated retry uses the next one')
            [CompletionResult]::new('--max-forwards', '--max-forwards', [CompletionResultType]::ParameterName, 'Max-Forwards (default 70)')
            [CompletionResult]::new('--user-agent', '--user-agent', [CompletionResultType]::ParameterName, 'User-Agent header value (default `sipkit/VERSION`)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Add a header field, `-H ''Name: value''`; repeat for more')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Add a header field, `-H ''Name: value''`; repeat for more')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for Digest authentication (and the From/To user for REGISTER)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User name for Digest authentication (and the From/To user for REGISTER)')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of FILE. SIPKIT_PASSWORD works too')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'The password on the command line (visible to other users of this machine: prefer --password-file or SIPKIT_PASSWORD)')
            [CompletionResult]::new('--ha1', '--ha1', [CompletionResultType]::ParameterName, 'HA1 = H(user:realm:password) in hex instead of a password (32 digits for MD5, 64 for SHA-256 and SHA-512-256)')
            [CompletionResult]::new('--auth-alg', '--auth-alg', [CompletionResultType]::ParameterName, 'Answer only challenges with this algorithm (default: the strongest offered)')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Local address to send from (`IP` or `IP:PORT`)')
            [CompletionResult]::new('--dns-server', '--dns-server', [CompletionResultType]::ParameterName, 'DNS server to ask instead of the system''s (`IP` or `IP:PORT`)')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file too (TLS, WSS)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate chain (PEM) for TLS; needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key (PEM) for --cert')
            [CompletionResult]::new('--t1', '--t1', [CompletionResultType]::ParameterName, 'Timer T1, the round-trip estimate (default 500ms); retransmissions start at T1 and the transaction gives up after 64*T1')
            [CompletionResult]::new('--t2', '--t2', [CompletionResultType]::ParameterName, 'Timer T2, the longest retransmission interval (default 4s)')
            [CompletionResult]::new('--t4', '--t4', [CompletionResultType]::ParameterName, 'Timer T4, how long a message may linger in the network (default 5s)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long in all, whatever the transaction timers say (`10s`, `500ms`)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `human` for people, `json` for machines (never coloured)')
            [CompletionResult]::new('--uri', '--uri', [CompletionResultType]::ParameterName, 'Request-URI (default: the target as a SIP URI; for REGISTER the registrar, the target without its user part). For REGISTER it changes only the Request-URI: From and To stay the address of record (--from, else sip:USER@TARGET-HOST with --user)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR')
            [CompletionResult]::new('--unregister', '--unregister', [CompletionResultType]::ParameterName, 'REGISTER only: remove every binding (`Contact: *` with `Expires: 0`, RFC 3261 §10.2.2)')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'With --message: send the bytes exactly as written after substitution (no Content-Length fix-up, no line-end repair)')
            [CompletionResult]::new('--traceroute', '--traceroute', [CompletionResultType]::ParameterName, 'Walk the path: send with Max-Forwards 0, 1, 2... (up to --max-forwards, default 70) and list each hop''s 483 Too Many Hops until another response ends the walk')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the request that would be sent, without using the network')
            [CompletionResult]::new('--resolve-only', '--resolve-only', [CompletionResultType]::ParameterName, 'Only locate the server (RFC 3263) and print the destinations; send nothing')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Accept any server certificate (TLS, WSS). For testing only')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing for people but errors (no messages, no progress line); JSON is unchanged. The exit status still tells the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing for people but errors (no messages, no progress line); JSON is unchanged. The exit status still tells the result')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sipkit;invite' {
            [CompletionResult]::new('--text', '--text', [CompletionResultType]::ParameterName, 'Send this text over MSRP once the call is up')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Send this file over MSRP, offered with its name, type, size and SHA-1 hash (RFC 5547)')
            [CompletionResult]::new('--content-type', '--content-type', [CompletionResultType]::ParameterName, 'The content''s MIME type (default text/plain for --text and --stdin, application/octet-stream for --file)')
            [CompletionResult]::new('--chunk-size', '--chunk-size', [CompletionResultType]::ParameterName, 'Body bytes per MSRP SEND chunk (default 65536, 4096 through --relay; chunks over 2048 bytes are sent interruptible, with `*` as the Byte-Range end, RFC 4975 §7.1.1)')
            [CompletionResult]::new('--relay', '--relay', [CompletionResultType]::ParameterName, 'Send MSRP through this relay (RFC 4976), e.g. `msrps://relay.example.com:2855;tcp`: AUTH with Digest (--user and its password), then its Use-Path goes in the offer''s a=path and the session runs over that connection. One relay (the first hop) only')
            [CompletionResult]::new('--ring-timeout', '--ring-timeout', [CompletionResultType]::ParameterName, 'Cancel the call (CANCEL) when it is not answered within DURATION (`30s`)')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Keep an answered call up this long before sending BYE (default 0)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'From header value (default: `<sip:USER@DOMAIN>` with --user, else `<sip:sipkit@LOCAL_IP>`)')
            [CompletionResult]::new('--contact', '--contact', [CompletionResultType]::ParameterName, 'Contact header value (default: `<sip:USER@LOCAL_IP:LOCAL_PORT;transport=...>` from the socket''s real address; never added to MESSAGE, RFC 3428 §4)')
            [CompletionResult]::new('--call-id', '--call-id', [CompletionResultType]::ParameterName, 'Call-ID (default: random)')
            [CompletionResult]::new('--cseq', '--cseq', [CompletionResultType]::ParameterName, 'CSeq number of the first request (default 1); an authenticated retry uses the next one')
            [CompletionResult]::new('--max-forwards', '--max-forwards', [CompletionResultType]::ParameterName, 'Max-Forwards (default 70)')
            [CompletionResult]::new('--user-agent', '--user-agent', [CompletionResultType]::ParameterName, 'User-Agent header value (default `sipkit/VERSION`)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Add a header field, `-H ''Name: value''`; repeat for more')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Add a header field, `-H ''Name: value''`; repeat for more')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for Digest authentication (and the From/To user for REGISTER)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User name for Digest authentication (and the From/To user for REGISTER)')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of FILE. SIPKIT_PASSWORD works too')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'The password on the command line (visible to other users of this machine: prefer --password-file or SIPKIT_PASSWORD)')
            [CompletionResult]::new('--ha1', '--ha1', [CompletionResultType]::ParameterName, 'HA1 = H(user:realm:password) in hex instead of a password (32 digits for MD5, 64 for SHA-256 and SHA-512-256)')
            [CompletionResult]::new('--auth-alg', '--auth-alg', [CompletionResultType]::ParameterName, 'Answer only challenges with this algorithm (default: the strongest offered)')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Local address to send from (`IP` or `IP:PORT`)')
            [CompletionResult]::new('--dns-server', '--dns-server', [CompletionResultType]::ParameterName, 'DNS server to ask instead of the system''s (`IP` or `IP:PORT`)')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file too (TLS, WSS)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate chain (PEM) for TLS; needs --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key (PEM) for --cert')
            [CompletionResult]::new('--t1', '--t1', [CompletionResultType]::ParameterName, 'Timer T1, the round-trip estimate (default 500ms); retransmissions start at T1 and the transaction gives up after 64*T1')
            [CompletionResult]::new('--t2', '--t2', [CompletionResultType]::ParameterName, 'Timer T2, the longest retransmission interval (default 4s)')
            [CompletionResult]::new('--t4', '--t4', [CompletionResultType]::ParameterName, 'Timer T4, how long a message may linger in the network (default 5s)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after this long in all, whatever the transaction timers say (`10s`, `500ms`)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: `human` for people, `json` for machines (never coloured)')
            [CompletionResult]::new('--uri', '--uri', [CompletionResultType]::ParameterName, 'Request-URI of the INVITE (default: the target as a SIP URI); also the To header unless --to is given')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'To header value: who is called (default: the Request-URI in angle brackets)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR')
            [CompletionResult]::new('--stdin', '--stdin', [CompletionResultType]::ParameterName, 'Send standard input over MSRP')
            [CompletionResult]::new('--msrps', '--msrps', [CompletionResultType]::ParameterName, 'Offer MSRP over TLS (`TCP/TLS/MSRP`, an msrps: path). The callee''s certificate is checked against --ca-file (or the system roots; --insecure skips it)')
            [CompletionResult]::new('--cpim', '--cpim', [CompletionResultType]::ParameterName, 'Wrap the content in message/cpim (RFC 3862) even when the callee accepts its type as it is (it is wrapped anyway when the answer''s a=accept-types allow only message/cpim)')
            [CompletionResult]::new('--no-report', '--no-report', [CompletionResultType]::ParameterName, 'Do not ask for a Success-Report: delivery is then confirmed by the 200 of every chunk')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Accept any server certificate (TLS, WSS). For testing only')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing for people but errors (no messages, no progress line); JSON is unchanged. The exit status still tells the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing for people but errors (no messages, no progress line); JSON is unchanged. The exit status still tells the result')
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
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Answer SIP requests as a user agent server, printing each message as it comes')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Send one SIP request and report what came back (OPTIONS unless METHOD is given)')
            [CompletionResult]::new('invite', 'invite', [CompletionResultType]::ParameterValue, 'Place a call: INVITE with an SDP offer, then ACK, and BYE when done')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sipkit;help;validate' {
            break
        }
        'sipkit;help;decode-pcap' {
            break
        }
        'sipkit;help;listen' {
            break
        }
        'sipkit;help;send' {
            break
        }
        'sipkit;help;invite' {
            break
        }
        'sipkit;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
