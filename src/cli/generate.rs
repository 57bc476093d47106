//! `retrohunt generate`.

use std::process::ExitCode;

use anyhow::Context;

use retrohunt::generate::{self, TenantSpec};

use super::args::GenerateArgs;

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let spec = TenantSpec {
        heavy_per_mille: args.heavy_per_mille,
        networks: args.networks,
        patterns: args.patterns,
        ..TenantSpec::new(args.users, args.days, args.seed)
    };
    let generated = generate::generate(&spec, args.format, &args.out)
        .with_context(|| format!("cannot generate into {}", args.out.display()))?;
    eprintln!(
        "generated {} interactive and {} non-interactive sign-ins ({} injected attacks) in {}",
        generated.interactive,
        generated.non_interactive,
        generated.attacks,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
