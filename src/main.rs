//! `image-tsne-live`: the command line ([`image_tsne_live::cli`]). With no subcommand it opens
//! the live viewer; the subcommands do every computing or saving action headless.

fn main() {
    image_tsne_live::cli::main()
}
