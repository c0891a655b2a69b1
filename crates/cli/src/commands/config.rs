use crate::Result;
use clap::ValueEnum;
use deck_app::Target;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    format: Format,
    /// Print the values of secret-looking variables instead of masking them.
    #[arg(long)]
    show_secrets: bool,
    /// Print only the service names, in start-up order.
    #[arg(long)]
    services: bool,
    /// Only validate: print nothing but warnings and errors.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(target: &Target, a: Args) -> Result<()> {
    let stack = crate::load(target)?;
    if a.quiet {
        return Ok(());
    }
    if a.services {
        for s in stack.project.startup_order() {
            println!("{s}");
        }
        return Ok(());
    }
    let value = deck_compose::config_json(&stack.project, a.show_secrets);
    match a.format {
        Format::Yaml => print!("{}", deck_compose::to_yaml(&value)),
        // Masked (or not, with --show-secrets) above, as asked.
        Format::Json => println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default()),
    }
    Ok(())
}
