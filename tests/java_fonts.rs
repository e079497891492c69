//! The fonts decision, tested as documented: `lucid-java-base` leaves FreeType, HarfBuzz and
//! fonts out, so headless text measuring fails there, and the variant that docs/java-modules.md
//! declares (extending `lucid-java-base`) measures and draws text and encodes PNG and JPEG, as
//! UID 65532, in a real Docker engine.

mod support;

use std::process::Command;

use support::{docker, lucid, repo_root, require_docker, require_tool, spec_copy};

const FONTS: &str = r#"import java.awt.*; import java.awt.image.BufferedImage; import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
public class Fonts { public static void main(String[] a) throws Exception {
  BufferedImage img = new BufferedImage(240, 40, BufferedImage.TYPE_INT_RGB);
  Graphics2D g = img.createGraphics();
  Font font = new Font("DejaVu Sans", Font.PLAIN, 14);
  g.setFont(font);
  int width = g.getFontMetrics().stringWidth("column autosize");
  g.drawString("column autosize", 4, 24);
  g.dispose();
  ByteArrayOutputStream png = new ByteArrayOutputStream(), jpg = new ByteArrayOutputStream();
  ImageIO.write(img, "png", png);
  ImageIO.write(img, "jpg", jpg);
  System.out.println("width=" + width + " family=" + font.getFamily() + " png=" + png.size() + " jpg=" + jpg.size());
} }
"#;

/// The spec block between the markers of docs/java-modules.md.
fn documented_variant() -> String {
    let doc = std::fs::read_to_string(repo_root().join("docs/java-modules.md")).unwrap();
    let start = doc.find("<!-- BEGIN tested by tests/java_fonts.rs -->").expect("BEGIN marker in docs/java-modules.md");
    let end = doc.find("<!-- END tested by tests/java_fonts.rs -->").expect("END marker");
    let block = &doc[start..end];
    let yaml = block.split("```yaml\n").nth(1).and_then(|b| b.split("```").next()).expect("a yaml block");
    yaml.to_string()
}

#[test]
fn documented_fonts_variant_draws_text_and_the_runtime_image_says_why_it_cannot() {
    require_docker();
    require_tool("javac");
    let tmp = tempfile::tempdir().unwrap();
    let spec_path =
        spec_copy(&tmp.path().join("spec"), |spec| format!("{}\n{}", spec.trim_end(), documented_variant()));
    let step = |args: &[&str]| {
        let o = lucid().current_dir(repo_root()).args(args).arg("-f").arg(&spec_path).output().unwrap();
        assert!(
            o.status.success(),
            "lucid {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // The variant's packages are new to the lock: resolve them, then build both (one platform).
    step(&["lock", "-q"]);
    let out = tmp.path().join("out");
    let table = step(&[
        "build",
        "lucid-java-base",
        "lucid-java-fonts",
        "--platform",
        "linux/amd64",
        "-t",
        ":fonts-test",
        "--load",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(table.lines().any(|l| l.starts_with("lucid-java-fonts ") && l.contains("150MB ok")), "{table}");

    let classes = tmp.path().join("classes");
    std::fs::create_dir(&classes).unwrap();
    std::fs::write(classes.join("Fonts.java"), FONTS).unwrap();
    let ok = Command::new("javac").args(["--release", "17", "Fonts.java"]).current_dir(&classes).status().unwrap();
    assert!(ok.success());
    let volume = format!("{}:/app:ro", classes.display());
    let run = |image: &str| {
        Command::new("docker")
            .args(["run", "--rm", "--network", "none", "-v", &volume, image, "java", "-cp", "/app", "Fonts"])
            .output()
            .unwrap()
    };
    let drawn = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &volume,
        "lucid-java-fonts:fonts-test",
        "java",
        "-cp",
        "/app",
        "Fonts",
    ]);
    let field = |k: &str| -> u64 {
        drawn
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    assert!(field("width") > 50 && field("png") > 100 && field("jpg") > 100, "{drawn}");
    assert!(drawn.contains("family=DejaVu Sans"), "{drawn}");
    // The runtime image leaves the font stack out on purpose: text measuring fails there, naming FreeType.
    let refused = run("lucid-java-base:fonts-test");
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "lucid-java-base measured text: the fonts decision changed, update docs/java-modules.md"
    );
    assert!(text.contains("libfreetype") || text.contains("fontmanager"), "{text}");
}
