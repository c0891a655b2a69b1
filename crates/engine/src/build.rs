//! Image builds: the context as a tar stream to the engine's build API, output streamed back.

use crate::event::Sink;
use crate::ignore::DockerIgnore;
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

/// The build context as a tar, without what its `.dockerignore` leaves out (Docker's own
/// semantics, `crate::ignore`); `dockerfile` (relative to the context) is always sent.
fn context_tar(dir: &Path, dockerfile: &str, inline: Option<&str>) -> Result<Vec<u8>, std::io::Error> {
    let ignore = match std::fs::read_to_string(dir.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", dir.join(".dockerignore").display()),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
        Err(e) => return Err(e),
    }
    .keeping(&[&crate::ignore::clean(dockerfile), ".dockerignore"]);
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            let rel_text = rel.to_string_lossy();
            let is_dir = e.file_type()?.is_dir();
            if ignore.excludes(&rel_text) {
                // An excluded directory is still walked when an exception names something
                // inside it (the directory itself is not sent), as the engine's own tar does.
                if is_dir && ignore.enters(&rel_text) {
                    stack.push(path);
                }
                continue;
            }
            if is_dir {
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
    let tar_dockerfile = dockerfile.clone();
    let tar = tokio::task::spawn_blocking(move || context_tar(&tar_dir, &tar_dockerfile, inline.as_deref()))
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
