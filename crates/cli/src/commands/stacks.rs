use crate::Result;

pub fn run() -> Result<()> {
    for s in deck_app::stacks() {
        match &s.invalid {
            Some(why) => println!("{}\t(invalid: {why})", s.name),
            None => {
                let default = if s.is_default { " (default)" } else { "" };
                let project = deck_stack::find(&s.name)
                    .map(|p| p.project_dir.display().to_string())
                    .unwrap_or_default();
                println!(
                    "{}{default}\t{}\tenvs: {}\tproject: {project}",
                    s.name,
                    s.description,
                    s.envs.join(", ")
                );
            }
        }
    }
    Ok(())
}
