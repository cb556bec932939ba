fn main() {
    std::process::exit(mngr::cli::main());
}
