// libFuzzer target: any bytes as a symbol index (<kernel>.symidx), which
// kvmnm and kvmdump read instead of parsing the kernel.  The identity the
// header records is the one expected, so inputs get past the staleness
// check to the records.  A table that loads is looked up, written again and
// read back, which must give the same table.
#include <kvm/symbol_index.h>

#include "fuzz_setup.h"

namespace {

kvm::FileIdentity identity_in(kvm::ByteSpan index) {
    using kvm::load32;
    using kvm::load64;
    constexpr auto le = kvm::ByteOrder::little;
    if (index.size() < 56) return {};
    return {.size = load64(index.data() + 16, le),
            .mtime_sec = static_cast<std::int64_t>(load64(index.data() + 24, le)),
            .mtime_nsec = load32(index.data() + 32, le),
            .inode = load64(index.data() + 40, le),
            .device = load64(index.data() + 48, le)};
}

bool same(const kvm::SymbolTable& a, const kvm::SymbolTable& b) {
    if (!std::equal(a.by_address().begin(), a.by_address().end(), b.by_address().begin(), b.by_address().end()))
        return false;
    for (const kvm::Symbol& s : a.by_address())
        if (a.find(s.name) != nullptr && (b.find(s.name) == nullptr || !(*a.find(s.name) == *b.find(s.name))))
            return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace kvm;
    const ByteSpan index(reinterpret_cast<const std::byte*>(data), size);
    const FileIdentity kernel = identity_in(index);
    const std::string path = fuzz::write_scratch_file("netbsd.symidx", index);
    fuzz::expect_errors([&] {
        const std::optional<SymbolTable> table = read_symbol_index(path, kernel);
        if (!table) return;
        for (const Symbol& s : table->by_address()) {
            (void)table->lookup(s.name);
            (void)table->nearest(s.value);
        }
        const std::string again = fuzz::scratch_dir() + "/again.symidx";
        write_symbol_index(again, *table, kernel);
        const std::optional<SymbolTable> reread = read_symbol_index(again, kernel);
        if (!reread || !same(*table, *reread))
            fuzz::broken_promise("a symbol index written again reads back different");
    });
    return 0;
}
