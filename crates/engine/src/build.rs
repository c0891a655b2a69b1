//! Image builds: the context as a tar stream to the engine's build API, output streamed back.

use crate::event::Sink;
use crate::labels::{ENV_LABEL, PROJECT, TARGET_LABEL};
use crate::{Context, EngineError};
use bollard::query_parameters::BuildImageOptions;
use bollard::Docker;
use deck_compose::Build;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Name of the Dockerfile added to the context for `dockerfile_inline`.
const INLINE_DOCKERFILE: &str = ".sirius-deck.Dockerfile";

pub struct BuildRequest<'a> {
    pub service: &'a str,
    pub project: &'a str,
    pub image: &'a str,
    pub build: &'a Build,
    pub env: Option<&'a str>,
    pub no_cache: bool,
}

/// Patterns of a `.dockerignore` that this tar honours: whole names and `dir/` prefixes,
/// `*.ext` suffixes; comments and negations are skipped.
fn ignored(rel: &Path, patterns: &[String]) -> bool {
    let s = rel.to_string_lossy();
    patterns.iter().any(|p| {
        let p = p.trim_start_matches("./").trim_end_matches('/');
        if let Some(ext) = p.strip_prefix("*.") {
            s.ends_with(&format!(".{ext}"))
        } else {
            s == p || s.starts_with(&format!("{p}/")) || p == "**" || (p.starts_with("**/") && s.ends_with(&p[3..]))
        }
    })
}

fn context_tar(dir: &Path, inline: Option<&str>) -> Result<Vec<u8>, std::io::Error> {
    let patterns: Vec<String> = std::fs::read_to_string(dir.join(".dockerignore"))
        .map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with(['#', '!']))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            if ignored(&rel, &patterns) {
                continue;
            }
            let ft = e.file_type()?;
            if ft.is_dir() {
                tar.append_dir(&rel, &path)?;
                stack.push(path);
            } else {
                tar.append_path_with_name(&path, &rel)?;
            }
        }
    }
    if let Some(text) = inline {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, INLINE_DOCKERFILE, text.as_bytes())?;
    }
    tar.into_inner()
}

/// Builds one image and returns its id.
pub async fn build_image(docker: &Docker, req: BuildRequest<'_>, sink: &Sink) -> Result<String, EngineError> {
    let build = req.build;
    let failed = |message: String| EngineError::Build {
        service: req.service.to_string(),
        message,
    };
    if build.context.contains("://") {
        return Err(failed(format!(
            "remote build contexts ({}) are not supported",
            build.context
        )));
    }
    if let Some((key, why)) = crate::extra::unsupported_build(build).into_iter().next() {
        return Err(failed(format!("{key}: {why}")));
    }
    let dir = PathBuf::from(&build.context);
    if !dir.is_dir() {
        return Err(failed(format!("the build context {} does not exist", dir.display())));
    }
    let dockerfile = match &build.dockerfile_inline {
        Some(_) => INLINE_DOCKERFILE.to_string(),
        None => build.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into()),
    };
    if build.dockerfile_inline.is_none() && !dir.join(&dockerfile).is_file() {
        return Err(failed(format!("{} does not exist", dir.join(&dockerfile).display())));
    }
    let inline = build.dockerfile_inline.clone();
    let tar_dir = dir.clone();
    let tar = tokio::task::spawn_blocking(move || context_tar(&tar_dir, inline.as_deref()))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(format!("reading the build context {}: {e}", dir.display())))?;

    let mut labels: HashMap<String, String> = build.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.insert(PROJECT.into(), req.project.into());
    labels.insert(TARGET_LABEL.into(), build.target.clone().unwrap_or_default());
    if let Some(env) = req.env {
        labels.insert(ENV_LABEL.into(), env.into());
    }
    let args: HashMap<String, String> = build
        .args
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect();
    let options = BuildImageOptions {
        dockerfile,
        t: Some(req.image.to_string()),
        target: build.target.clone().unwrap_or_default(),
        buildargs: Some(args),
        labels: Some(labels),
        nocache: req.no_cache,
        rm: true,
        forcerm: true,
        networkmode: build.network.clone(),
        ..Default::default()
    };
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(tar.into())));
    let mut last = Vec::<String>::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail {
                    let msg = detail.message.unwrap_or_else(|| "the build failed".into());
                    return Err(failed(format!("{msg}\n{}", last.join("\n"))));
                }
                if let Some(text) = info.stream {
                    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                        last.push(line.to_string());
                        if last.len() > 10 {
                            last.remove(0);
                        }
                        sink.send(crate::Event::BuildOutput {
                            service: req.service.to_string(),
                            line: line.to_string(),
                        });
                    }
                }
            }
            Err(e) => return Err(failed(format!("{e}\n{}", last.join("\n")))),
        }
    }
    let inspect = docker
        .inspect_image(req.image)
        .await
        .context(|| format!("inspecting the image {} just built", req.image))?;
    Ok(inspect.id.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_patterns() {
        let p: Vec<String> = ["node_modules", "*.log", "build/", "**/.git"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(ignored(Path::new("node_modules/x/y.js"), &p));
        assert!(ignored(Path::new("a/debug.log"), &p));
        assert!(ignored(Path::new("build/out"), &p));
        assert!(ignored(Path::new("sub/.git"), &p));
        assert!(!ignored(Path::new("src/main.rs"), &p));
        assert!(!ignored(Path::new("node_modules2"), &p));
    }
}
