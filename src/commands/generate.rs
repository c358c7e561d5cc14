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
    for entry in fs::read_dir(&man).with_context(|| format!("listing {}", man.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", man.display()))?
            .path();
        let page =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        if let Some(fixed) = examples_section(&page) {
            fs::write(&path, fixed).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    tracing::info!("wrote man pages into {}", man.display());
    Ok(())
}

/// clap_mangen puts a subcommand's `after_help` (its `Examples:`) in a section named EXTRA,
/// filled like prose; make it the EXAMPLES section of man-pages(7), each line as written.
fn examples_section(page: &str) -> Option<String> {
    let start = page.find(".SH EXTRA\nExamples:\n")?;
    let body = start + ".SH EXTRA\nExamples:\n".len();
    let end = page[body..]
        .find("\n.SH ")
        .map_or(page.len(), |i| body + i + 1);
    Some(format!(
        "{}.SH EXAMPLES\n.nf\n{}.fi\n{}",
        &page[..start],
        &page[body..end],
        &page[end..]
    ))
}
