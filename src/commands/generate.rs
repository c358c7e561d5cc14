//! Hidden `sipkit generate`: writes shell completions and man pages from the clap definition,
//! so they can never describe options the binary does not have. The results are committed
//! (`completions/`, `man/`) and a test fails when they are stale.

use std::fs;
use std::path::Path;

use anyhow::Context;
use clap_complete::Shell;

/// Shells completions are written for.
const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];

/// Write `out/completions/*` and `out/man/*.1` (one page per visible subcommand).
pub(crate) fn run(out: &Path) -> anyhow::Result<()> {
    let completions = out.join("completions");
    fs::create_dir_all(&completions)
        .with_context(|| format!("creating {}", completions.display()))?;
    let mut cmd = crate::cli::documented();
    for shell in SHELLS {
        let path = clap_complete::generate_to(shell, &mut cmd, "sipkit", &completions)
            .with_context(|| {
                format!("writing {shell} completions into {}", completions.display())
            })?;
        tracing::info!("wrote {}", path.display());
    }
    let man = out.join("man");
    fs::create_dir_all(&man).with_context(|| format!("creating {}", man.display()))?;
    clap_mangen::generate_to(crate::cli::documented(), &man)
        .with_context(|| format!("writing man pages into {}", man.display()))?;
    tracing::info!("wrote man pages into {}", man.display());
    Ok(())
}
