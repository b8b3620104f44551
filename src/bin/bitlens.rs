fn main() {
    let path = std::env::args().nth(1).expect("file");
    let bytes = std::fs::read(&path).unwrap();
    match bitlens::gguf::Gguf::parse(&bytes) {
        Ok(g) => {
            for m in &g.metadata {
                let s = format!("{:?}", m.value);
                println!("{} = {}", m.key, s.chars().take(80).collect::<String>());
            }
            for t in &g.tensors {
                println!(
                    "{} {:?} {} {} {}",
                    t.name, t.dims, t.ggml_type, t.offset, t.n_bytes
                );
            }
            println!("{:?}", g.notes);
        }
        Err(e) => eprintln!("{e}"),
    }
}
