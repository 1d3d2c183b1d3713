//! The conformance suite over storages built from settings URLs, as applications get them.

mod memory {
    use storages::Settings;
    use storages::conformance::Fixture;

    async fn fixture() -> Fixture {
        Fixture::new(
            Settings::parse("memory://?base_url=/media/")
                .expect("parse")
                .build()
                .expect("build"),
        )
    }

    storages::conformance_tests!(fixture);
}

mod local {
    use storages::Settings;
    use storages::conformance::Fixture;

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("x/y/z/media");
        let url = format!("file://{}?base_url=/media/&file_mode=644", root.display());
        let storage = Settings::parse(&url)
            .expect("parse")
            .build()
            .expect("build");
        let root = root.canonicalize().expect("root exists");
        Fixture {
            storage,
            outside: Some(dir.path().to_path_buf()),
            root: Some(root),
            guard: Some(Box::new(dir)),
        }
    }

    storages::conformance_tests!(fixture);
    storages::filesystem_conformance_tests!(fixture);
}

/// The same suite through the tracing wrapper, on storages as `Storages` hands them out: tracing changes no
/// answer.
mod traced_memory {
    use storages::Storages;
    use storages::conformance::Fixture;

    async fn fixture() -> Fixture {
        let storages =
            Storages::from_urls([("media", "memory://?base_url=/media/")]).expect("storages");
        Fixture::new(storages.media().expect("media"))
    }

    storages::conformance_tests!(fixture);
}

mod traced_local {
    use storages::Storages;
    use storages::conformance::Fixture;

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("x/y/z/media");
        let url = format!("file://{}?base_url=/media/&file_mode=644", root.display());
        let storages = Storages::from_urls([("media", url.as_str())]).expect("storages");
        let storage = storages.media().expect("media");
        assert!(
            format!("{storage:?}").starts_with("Traced("),
            "Storages hands out traced storages: {storage:?}"
        );
        Fixture {
            storage,
            outside: Some(dir.path().to_path_buf()),
            root: Some(root.canonicalize().expect("root exists")),
            guard: Some(Box::new(dir)),
        }
    }

    storages::conformance_tests!(fixture);
    storages::filesystem_conformance_tests!(fixture);
}
