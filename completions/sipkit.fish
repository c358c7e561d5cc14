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

complete -c sipkit -n "__fish_sipkit_needs_command" -l format -d 'Output format: `human` for people, `json` for JSON Lines (one object per line, never coloured), `github` for GitHub Actions annotations (validate only)' -r -f -a "human\t'For people (each subcommand\'s --help says what it prints)'
json\t'For machines: JSON Lines, or one JSON document for `send`'
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
complete -c sipkit -n "__fish_sipkit_needs_command" -f -a "listen" -d 'Answer SIP requests as a user agent server, printing each message as it comes'
complete -c sipkit -n "__fish_sipkit_needs_command" -f -a "send" -d 'Send one SIP request and report what came back (OPTIONS unless METHOD is given)'
complete -c sipkit -n "__fish_sipkit_needs_command" -f -a "invite" -d 'Place a call: INVITE with an SDP offer, then ACK, and BYE when done'
complete -c sipkit -n "__fish_sipkit_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l kind -d 'Treat every input as this kind instead of detecting it from the first line (`MSRP ` starts an MSRP message, `v=` or `m=` an SDP body) or, failing that, from a `.sdp` or `.msrp` file name; anything else is SIP' -r -f -a "sip\t'A SIP request or response (RFC 3261), with its SDP body if any'
sdp\t'An SDP session description (RFC 8866)'
msrp\t'An MSRP request or response (RFC 4975)'"
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l max-size -d 'Largest input read, in bytes (K, M and G suffixes); a larger one is not checked and is an input error (`input.too-large`, exit status 2). Standard input, FIFOs and devices named on the command line are read up to this size, never further' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l allow -d 'Report these departures from the RFCs as warnings instead of errors (comma-separated or repeated), for files written by editors and tools rather than sent on the wire' -r -f -a "lf-line-ends\t'Lines ending in LF alone instead of CRLF (SIP: RFC 3261 §7; MSRP: RFC 4975 §9; SDP bodies already get only a warning, RFC 8866 §5)'
missing-reason-space\t'A SIP status line without the SP before an empty reason phrase, `SIP/2.0 200` (RFC 3261 §7.2)'
missing-final-line-end\t'An SDP body whose last line has no line end (RFC 8866 §9 ends every line with CRLF)'"
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l format -d 'Output format: `human` for people, `json` for machines, `github` for GitHub Actions annotations (only `human` is ever coloured)' -r -f -a "human\t'Compiler-style diagnostics with source excerpts and a summary'
json\t'JSON Lines: one object per message and a final summary object'
github\t'GitHub Actions workflow commands (`::error file=...::...`)'"
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l color -d 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is not set'
always\t'Always colour, even into a pipe or file'
never\t'Never colour'"
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -l strict -d 'Treat warnings as errors'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -s q -l quiet -d 'Print only errors: no warnings, no valid messages, no summary. The exit status still tells the result'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -s v -l verbose -d 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipkit -n "__fish_sipkit_using_subcommand validate" -s V -l version -d 'Print version'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l flow -d 'Draw a ladder diagram of each call, or only of the call with this Call-ID (`--flow=CALL-ID`, with `=`: after a space the value would be the file)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l extract -d 'Write every reassembled MSRP message or file into DIR (which must exist), named from the SDP file-selector that describes it (same size, type and hash), else from its Message-ID; a message the capture leaves unfinished is written as NAME.partial. Existing files are never overwritten' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l write -d 'Write the packets that carried the matching messages to a new pcap file (for WebSocket, with the packets of the connection\'s HTTP upgrade, so the file decodes again)' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l call-id -d 'Keep only messages with this Call-ID (MSRP: of the call whose SDP set up the session)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l method -d 'Keep only requests with this method, or responses to it (by CSeq), e.g. `INVITE,BYE`' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l status -d 'Keep only responses with this status: a code (`486`) or a class (`4xx`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l host -d 'Keep only messages from or to this address: `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT` (without a port: any port)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l grep -d 'Keep only messages whose text (start line, header fields, body) matches this regular expression' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l problems -d 'Keep only messages with a diagnostic (a malformed message, a cut-off one, a field that does not parse); `--problems=error` keeps only those with an error' -r -f -a "warning\t'Messages with any diagnostic'
error\t'Messages with an error'"
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l transport -d 'Keep only messages carried over this transport' -r -f -a "udp\t'UDP datagrams (also HEP-encapsulated ones)'
tcp\t'TCP streams'
ws\t'WebSocket messages (RFC 7118)'"
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l max-stream-buffer -d 'Most bytes buffered per TCP stream direction while waiting for the end of a message; a message larger than this is dropped and reported. Accepts K, M and G suffixes' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l format -d 'Output format: `human` for people, `json` for machines (never coloured)' -r -f -a "human\t'One line per message (rows for --calls, a table for --stats, ladders for --flow)'
json\t'JSON Lines: one object per message, notice, call, flow or stats'"
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l color -d 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is not set'
always\t'Always colour, even into a pipe or file'
never\t'Never colour'"
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l full -d 'Print each message whole (start line, header fields, body) after its summary line'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l calls -d 'Print one row per call (INVITE dialog) instead of one per message: start, from, to, state, setup times (on the leg where the INVITE was first seen), duration, message count'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -l stats -d 'Print counts per method and response code, retransmissions (a message repeated on the same hop), calls attempted, answered and failed, answer-seizure ratio and setup times, instead of the messages'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -s i -l ignore-case -d 'Match --grep without regard to case (`(?i)` in the expression does the same)'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -s q -l quiet -d 'Leave out the notices (TCP gaps, dropped bytes, skipped packets, data after the gzip data); messages, summaries and errors are still printed. With --extract, print only the extracted files (and errors)'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -s v -l verbose -d 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipkit -n "__fish_sipkit_using_subcommand decode-pcap" -s V -l version -d 'Print version'
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l udp -d 'Listen for UDP on ADDR (`IP:PORT`, `[IPv6]:PORT`, or `IP` for port 5060); repeatable' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l tcp -d 'Listen for TCP on ADDR; repeatable' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l tls -d 'Listen for TLS on ADDR (port 5061 when omitted); needs --cert and --key' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l ws -d 'Listen for SIP over WebSocket (RFC 7118) on ADDR (port 80 when omitted)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l wss -d 'Listen for SIP over secure WebSocket on ADDR (port 443 when omitted); needs --cert and --key' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l cert -d 'Server certificate chain (PEM, leaf first) for --tls and --wss' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l key -d 'Private key (PEM) for --cert' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l msrp -d 'Our MSRP address, put in the a=path of MSRP answers (`IP:PORT`, or `IP` for port 2855; default: the first listening IP, port 2855). Without --msrp, a busy port 2855 only disables MSRP; with it, listen fails' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l accept-types -d 'Media types accepted in MSRP sessions, comma-separated (`text/plain,image/*`; default `*`). The answer\'s a=accept-types is what the offer and this list have in common; other types get 415' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l max-size -d 'Largest MSRP message accepted, in bytes (a=max-size; larger ones get 413; default 1 GiB)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l save-dir -d 'Keep received MSRP files in DIR (created if missing), named from the offer\'s a=file-selector name (path removed; control and invisible characters such as bidirectional overrides replaced by _) or else the Message-ID; an existing file is never overwritten. A file appears only once whole and, when the offer gives hash:sha-1, matching it (else it is kept as NAME.part). Without it, file offers are declined with 488 and other content is hashed and dropped' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l reply -d 'Answer METHOD with CODE instead of the default, `INVITE=486` or `MESSAGE=403:Go away`; repeatable. CODE is a final status (200-699)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l ring -d 'Ring this long (180 Ringing) before answering an INVITE (`3s`, `500ms`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -s H -l header -d 'Add a header field to every response, `-H \'Name: value\'`; repeatable' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l max-expires -d 'The longest binding a REGISTER is granted, in seconds (default 3600): the 200 says the shorter expiry (RFC 3261 §10.3)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l min-expires -d 'The shortest binding a REGISTER may ask for, in seconds (default: none); a shorter one (other than 0) gets 423 Interval Too Brief with Min-Expires (RFC 3261 §10.3)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l auth -d 'Challenge every request (but ACK and CANCEL) with Digest for this `user:password` (401 for REGISTER, 407 otherwise; wrong credentials get 403); repeatable' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l auth-file -d 'Read `user:password` lines from FILE (blank lines and `#` comments skipped)' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l auth-alg -d 'The algorithms to challenge with, one challenge each, in this order (default: MD5). MD5 alone is what SIPp 3.6, sipsak 0.9.8, sipvicious 0.3 (they answer the first challenge, MD5 only) and baresip 1.0 (fails on any challenge not MD5) accept; linphone 5 answers SHA-256 whenever it is offered. `SHA-256,MD5` is RFC 8760\'s order' -r -f -a "MD5\t'MD5 (RFC 2617; weak, kept for old servers)'
MD5-sess\t'MD5-sess'
SHA-256\t'SHA-256 (RFC 8760)'
SHA-256-sess\t'SHA-256-sess'
SHA-512-256\t'SHA-512-256 (RFC 8760)'
SHA-512-256-sess\t'SHA-512-256-sess'"
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l realm -d 'The Digest realm (default `sipkit`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l nonce-lifetime -d 'How long a nonce is accepted; an older one is challenged again with stale=true (default 5 minutes)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l write-pcap -d 'Write every SIP and MSRP message sent and received to FILE as a pcapng capture, with IP/UDP/TCP headers synthesised (TLS and WebSocket messages appear as plain TCP). FILE must not exist: an existing file is a usage error, never overwritten' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l count -d 'Exit after answering N requests (ACK, CANCEL and retransmissions do not count). MSRP messages still arriving then get up to 5 s to complete and be reported' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l msrp-count -d 'Exit after receiving N whole MSRP messages' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l timeout -d 'Stop after this long (`30s`); with --count or --msrp-count still unmet, exit 3' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l max-message -d 'Largest SIP message accepted, in bytes (default 65536); larger ones are logged and dropped, and a TCP/TLS connection sending one is answered 513 Message Too Large, then closed' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l max-connections -d 'Most TCP/TLS/WebSocket connections open at once, SIP and MSRP each (default 1024); more are closed on accept' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l idle-timeout -d 'Close a connection silent for this long (default 5m); a message begun must also finish within 30s, or within this if shorter (slow senders)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l max-transactions -d 'Most SIP server transactions alive at once (default 1000000); new requests beyond get 503 with Retry-After, answered without keeping state' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l max-msrp-sessions -d 'Most MSRP sessions open at once (default 1000); further MSRP offers get 488' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l msrp-bind-timeout -d 'An answered MSRP session that no MSRP connection binds within this time (its 2xx never ACKed, or the peer never connects) is freed (default 30s; RFC 4975 sets no limit)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l format -d 'Output format: `human` for people, `json` for machines (never coloured)' -r -f -a "human\t'One line per message received and sent'
json\t'JSON Lines: one object per event, `event` naming its kind'"
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l color -d 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is not set'
always\t'Always colour, even into a pipe or file'
never\t'Never colour'"
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l msrps -d 'Take MSRP over TLS (`TCP/TLS/MSRP`, `msrps:` URIs) with --cert and --key, instead of TCP'
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l registrar -d 'Keep REGISTER bindings in memory (with expiry) and list them in the 200 OK; requests to a registered address of record are reported as such'
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -l full -d 'Print each message whole, not only its first line'
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -s q -l quiet -d 'Print only the listening addresses and errors'
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -s v -l verbose -d 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipkit -n "__fish_sipkit_using_subcommand listen" -s V -l version -d 'Print version'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l expires -d 'Expires header in seconds (REGISTER default 3600)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l body -d 'The body, as given' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l body-file -d 'Read the body from FILE (`-` for standard input)' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l content-type -d 'Content-Type of the body (default application/sdp for INVITE, else text/plain)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l text -d 'Send a MESSAGE (RFC 3428) with this text/plain body; METHOD may be omitted' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l message -d 'Send this whole message written by hand (`-` for standard input). `${name}` is replaced by call_id, branch, from_tag, local_ip, local_port, transport, cseq, target, or a --set variable; an unknown name is an error. Content-Length is fixed up unless --raw' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l set -d 'Define `${NAME}` for --message, `--set NAME=VALUE`; repeat for more' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l count -d 'Load mode: send this many requests in all, each a new call (new Call-ID), to the first destination, and report status counts and latency percentiles instead of each message. Not for INVITE (the calls would stay up: use `sipkit invite`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l rate -d 'Load mode: start at most this many requests per second (default: as fast as answers come). Needs --count' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l concurrency -d 'Load mode: keep at most this many requests in flight, each on its own socket (default 1). Needs --count' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l expect -d 'Exit 0 only if the final status is one of these (`200,404`, classes like `2xx`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l from -d 'From header value (default: `<sip:USER@DOMAIN>` with --user, else `<sip:sipkit@LOCAL_IP>`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l to -d 'To header value (default: the Request-URI; for REGISTER the From address)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l contact -d 'Contact header value (default: `<sip:USER@LOCAL_IP:LOCAL_PORT;transport=...>` from the socket\'s real address; never added to MESSAGE, RFC 3428 §4)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l call-id -d 'Call-ID (default: random)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l cseq -d 'CSeq number of the first request (default 1); an authenticated retry uses the next one' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l max-forwards -d 'Max-Forwards (default 70)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l user-agent -d 'User-Agent header value (default `sipkit/VERSION`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -s H -l header -d 'Add a header field, `-H \'Name: value\'`; repeat for more' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -s u -l user -d 'User name for Digest authentication (and the From/To user for REGISTER)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l password-file -d 'Read the password from the first line of FILE. SIPKIT_PASSWORD works too' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l password -d 'The password on the command line (visible to other users of this machine: prefer --password-file or SIPKIT_PASSWORD)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l ha1 -d 'HA1 = H(user:realm:password) in hex instead of a password (32 digits for MD5, 64 for SHA-256 and SHA-512-256)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l auth-alg -d 'Answer only challenges with this algorithm (default: the strongest offered)' -r -f -a "MD5\t'MD5 (RFC 2617; weak, kept for old servers)'
MD5-sess\t'MD5-sess'
SHA-256\t'SHA-256 (RFC 8760)'
SHA-256-sess\t'SHA-256-sess'
SHA-512-256\t'SHA-512-256 (RFC 8760)'
SHA-512-256-sess\t'SHA-512-256-sess'"
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l bind -d 'Local address to send from (`IP` or `IP:PORT`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l dns-server -d 'DNS server to ask instead of the system\'s (`IP` or `IP:PORT`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l ca-file -d 'Trust the CA certificates in this PEM file too (TLS, WSS)' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l cert -d 'Client certificate chain (PEM) for TLS; needs --key' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l key -d 'Private key (PEM) for --cert' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l t1 -d 'Timer T1, the round-trip estimate (default 500ms); retransmissions start at T1 and the transaction gives up after 64*T1' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l t2 -d 'Timer T2, the longest retransmission interval (default 4s)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l t4 -d 'Timer T4, how long a message may linger in the network (default 5s)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l timeout -d 'Give up after this long in all, whatever the transaction timers say (`10s`, `500ms`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l format -d 'Output format: `human` for people, `json` for machines (never coloured)' -r -f -a "human\t'The messages sent and received as they happen, then the outcome'
json\t'One JSON document at the end: the messages, the outcome and the exit status'"
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l uri -d 'Request-URI (default: the target as a SIP URI; for REGISTER the registrar, the target without its user part). For REGISTER it changes only the Request-URI: From and To stay the address of record (--from, else sip:USER@TARGET-HOST with --user)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l color -d 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is not set'
always\t'Always colour, even into a pipe or file'
never\t'Never colour'"
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l unregister -d 'REGISTER only: remove every binding (`Contact: *` with `Expires: 0`, RFC 3261 §10.2.2)'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l raw -d 'With --message: send the bytes exactly as written after substitution (no Content-Length fix-up, no line-end repair)'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l traceroute -d 'Walk the path: send with Max-Forwards 0, 1, 2... (up to --max-forwards, default 70) and list each hop\'s 483 Too Many Hops until another response ends the walk'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l dry-run -d 'Print the request that would be sent, without using the network'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l resolve-only -d 'Only locate the server (RFC 3263) and print the destinations; send nothing'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -l insecure -d 'Accept any server certificate (TLS, WSS). For testing only'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -s q -l quiet -d 'Print nothing for people but errors (no messages, no progress line); JSON is unchanged. The exit status still tells the result'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -s v -l verbose -d 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipkit -n "__fish_sipkit_using_subcommand send" -s V -l version -d 'Print version'
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l text -d 'Send this text over MSRP once the call is up' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l file -d 'Send this file over MSRP, offered with its name, type, size and SHA-1 hash (RFC 5547)' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l content-type -d 'The content\'s MIME type (default text/plain for --text and --stdin, application/octet-stream for --file)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l chunk-size -d 'Body bytes per MSRP SEND chunk (default 65536, 4096 through --relay; chunks over 2048 bytes are sent interruptible, with `*` as the Byte-Range end, RFC 4975 §7.1.1)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l relay -d 'Send MSRP through this relay (RFC 4976), e.g. `msrps://relay.example.com:2855;tcp`: AUTH with Digest (--user and its password), then its Use-Path goes in the offer\'s a=path and the session runs over that connection. One relay (the first hop) only' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l ring-timeout -d 'Cancel the call (CANCEL) when it is not answered within DURATION (`30s`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l duration -d 'Keep an answered call up this long before sending BYE (default 0)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l from -d 'From header value (default: `<sip:USER@DOMAIN>` with --user, else `<sip:sipkit@LOCAL_IP>`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l contact -d 'Contact header value (default: `<sip:USER@LOCAL_IP:LOCAL_PORT;transport=...>` from the socket\'s real address; never added to MESSAGE, RFC 3428 §4)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l call-id -d 'Call-ID (default: random)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l cseq -d 'CSeq number of the first request (default 1); an authenticated retry uses the next one' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l max-forwards -d 'Max-Forwards (default 70)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l user-agent -d 'User-Agent header value (default `sipkit/VERSION`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -s H -l header -d 'Add a header field, `-H \'Name: value\'`; repeat for more' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -s u -l user -d 'User name for Digest authentication (and the From/To user for REGISTER)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l password-file -d 'Read the password from the first line of FILE. SIPKIT_PASSWORD works too' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l password -d 'The password on the command line (visible to other users of this machine: prefer --password-file or SIPKIT_PASSWORD)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l ha1 -d 'HA1 = H(user:realm:password) in hex instead of a password (32 digits for MD5, 64 for SHA-256 and SHA-512-256)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l auth-alg -d 'Answer only challenges with this algorithm (default: the strongest offered)' -r -f -a "MD5\t'MD5 (RFC 2617; weak, kept for old servers)'
MD5-sess\t'MD5-sess'
SHA-256\t'SHA-256 (RFC 8760)'
SHA-256-sess\t'SHA-256-sess'
SHA-512-256\t'SHA-512-256 (RFC 8760)'
SHA-512-256-sess\t'SHA-512-256-sess'"
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l bind -d 'Local address to send from (`IP` or `IP:PORT`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l dns-server -d 'DNS server to ask instead of the system\'s (`IP` or `IP:PORT`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l ca-file -d 'Trust the CA certificates in this PEM file too (TLS, WSS)' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l cert -d 'Client certificate chain (PEM) for TLS; needs --key' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l key -d 'Private key (PEM) for --cert' -r -F
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l t1 -d 'Timer T1, the round-trip estimate (default 500ms); retransmissions start at T1 and the transaction gives up after 64*T1' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l t2 -d 'Timer T2, the longest retransmission interval (default 4s)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l t4 -d 'Timer T4, how long a message may linger in the network (default 5s)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l timeout -d 'Give up after this long in all, whatever the transaction timers say (`10s`, `500ms`)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l format -d 'Output format: `human` for people, `json` for machines (never coloured)' -r -f -a "human\t'The call\'s messages and progress as they happen'
json\t'JSON Lines, one object per event as it happens'"
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l uri -d 'Request-URI of the INVITE (default: the target as a SIP URI); also the To header unless --to is given' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l to -d 'To header value: who is called (default: the Request-URI in angle brackets)' -r
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l color -d 'When to colour the output: `auto` colours only a terminal and honours NO_COLOR' -r -f -a "auto\t'Colour when writing to a terminal and NO_COLOR is not set'
always\t'Always colour, even into a pipe or file'
never\t'Never colour'"
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l stdin -d 'Send standard input over MSRP'
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l msrps -d 'Offer MSRP over TLS (`TCP/TLS/MSRP`, an msrps: path). The callee\'s certificate is checked against --ca-file (or the system roots; --insecure skips it)'
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l cpim -d 'Wrap the content in message/cpim (RFC 3862) even when the callee accepts its type as it is (it is wrapped anyway when the answer\'s a=accept-types allow only message/cpim)'
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l no-report -d 'Do not ask for a Success-Report: delivery is then confirmed by the 200 of every chunk'
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -l insecure -d 'Accept any server certificate (TLS, WSS). For testing only'
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -s q -l quiet -d 'Print nothing for people but errors (no messages, no progress line); JSON is unchanged. The exit status still tells the result'
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -s v -l verbose -d 'Log what sipkit is doing to standard error; repeat for more detail (-vv, -vvv)'
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipkit -n "__fish_sipkit_using_subcommand invite" -s V -l version -d 'Print version'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate decode-pcap listen send invite help" -f -a "validate" -d 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate decode-pcap listen send invite help" -f -a "decode-pcap" -d 'List the SIP and MSRP messages in a packet capture, group them into calls, draw call flows, count them, extract MSRP files'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate decode-pcap listen send invite help" -f -a "listen" -d 'Answer SIP requests as a user agent server, printing each message as it comes'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate decode-pcap listen send invite help" -f -a "send" -d 'Send one SIP request and report what came back (OPTIONS unless METHOD is given)'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate decode-pcap listen send invite help" -f -a "invite" -d 'Place a call: INVITE with an SDP offer, then ACK, and BYE when done'
complete -c sipkit -n "__fish_sipkit_using_subcommand help; and not __fish_seen_subcommand_from validate decode-pcap listen send invite help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
