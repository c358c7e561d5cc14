
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
        'sipkit;help' {
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check SIP, SDP and MSRP messages against their RFCs, like a compiler checks code')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sipkit;help;validate' {
            break
        }
        'sipkit;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
