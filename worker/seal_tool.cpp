// webhook-worker-seal: test and admin helper. Seals each line of stdin with the AES-256-GCM
// key file (the module's WebhookSecretKeyFile), printing one sealed value per line, e.g. to
// put an endpoint row into MariaDB by hand. With --generate-secret it prints a new
// "whsec_…" signing secret instead. Not installed; built beside webhook-worker.
#include <iostream>
#include <string>

#include "crypto.hpp"

int main(int argc, char** argv) {
    std::string arg1 = argc > 1 ? argv[1] : "";
    if (arg1 == "--generate-secret") {
        std::cout << wh::generate_signing_secret() << "\n";
        return 0;
    }
    if (argc != 2 || arg1.empty() || arg1[0] == '-') {
        std::cerr << "usage: webhook-worker-seal KEYFILE < plaintext-lines\n"
                     "       webhook-worker-seal --generate-secret\n";
        return 2;
    }
    wh::SecretBox::Key key;
    if (std::string e = wh::SecretBox::load_key_file(arg1, key); !e.empty()) {
        std::cerr << e << "\n";
        return 2;
    }
    wh::SecretBox box(key);
    std::string line;
    while (std::getline(std::cin, line)) std::cout << box.seal(line) << "\n";
    return 0;
}
