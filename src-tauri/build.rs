const COMMANDS: &[&str] = &[
    "list_stacks",
    "open_stack",
    "stack_up",
    "stack_down",
    "service_control",
    "service_health",
    "set_notifications",
    "logs_follow",
    "logs_stop",
    "backups_list",
    "backup_create",
    "backup_cancel",
    "backup_verify",
    "backup_restore",
    "backup_settings_save",
    "stack_switch",
    "stack_drift",
    "service_repair",
];

fn main() {
    // Declaring the app's commands makes each one a permission that the capability must grant.
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
