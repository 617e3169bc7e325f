// Symbol lists as namelists: System.map and /proc/kallsyms lines, nm
// letters, modules, and the errors of lines that are not symbol lines.
#include <kvm/elf.h>
#include <kvm/error.h>
#include <kvm/namelist.h>
#include <kvm/synth.h>

#include <doctest/doctest.h>

#include "elf_fixture.h"
#include "test_util.h"

using namespace kvm;
using kvm::test::TempDir;
using kvmtest::check_error;

TEST_CASE("symbol lists: System.map and kallsyms lines, letters, modules") {
    TempDir dir;
    const std::string path = dir / "kallsyms";
    synth::write_file(path, to_bytes("ffffffff81000000 T _text\n"
                                     "ffffffff82000010 d local_var\n"
                                     "0000000000031980 A runqueues\n"
                                     "ffffffff81000100 W weak_fn\n"
                                     "ffffffffc0a01000 t virtblk_probe\t[virtio_blk]\n"
                                     "\n"
                                     "ffffffffc0a03000 b   spaced_name   [ext4]  \r\n"));
    const auto n = Namelist::load(path);
    CHECK(n->kind() == NamelistKind::symbol_list);
    CHECK(n->elf() == nullptr);
    const SymbolTable& t = n->symbols();
    CHECK(t.size() == 6);
    CHECK(t.find("_text")->value == 0xffffffff81000000u);
    CHECK(t.find("_text")->elf_type == elf::stt_func);
    CHECK(t.find("_text")->elf_binding == elf::stb_global);
    CHECK(t.find("local_var")->elf_binding == elf::stb_local);
    CHECK(t.find("local_var")->elf_type == elf::stt_object);
    CHECK(t.find("weak_fn")->elf_binding == elf::stb_weak);
    CHECK(t.find("runqueues")->type == 'A');
    CHECK(t.find("virtblk_probe")->module == "virtio_blk");
    CHECK(t.find("spaced_name")->module == "ext4");
    CHECK(t.find("_text")->module.empty());
    CHECK(t.nearest(0xffffffff81000104)->symbol->name == "weak_fn");
}

TEST_CASE("symbol lists: bad lines, hidden addresses and unknown content") {
    TempDir dir;
    const std::string bad = dir / "System.map";
    synth::write_file(bad, to_bytes("ffffffff81000000 T _text\nffffffff81000010 T\n"));
    check_error([&] { Namelist::load(bad); }, ErrorKind::corrupt,
                bad + ": line 2: not \"address type name [module]\": \"ffffffff81000010 T\"");
    const std::string long_hex = dir / "long";
    synth::write_file(long_hex, to_bytes("ffffffff81000000 T _text\n1ffffffff81000000 T too_wide\n"));
    check_error([&] { Namelist::load(long_hex); }, ErrorKind::corrupt,
                long_hex + ": line 2: not \"address type name [module]\": \"1ffffffff81000000 T too_wide\"");
    const std::string hidden = dir / "kallsyms";
    synth::write_file(hidden, to_bytes("0000000000000000 T _text\n0000000000000000 T _stext\n"));
    check_error([&] { Namelist::load(hidden); }, ErrorKind::unsupported,
                hidden +
                    ": every address is 0: the kernel hides symbol addresses from this user "
                    "(kernel.kptr_restrict); read it as root");
    const std::string binary = dir / "binary";
    synth::write_file(binary, Bytes{std::byte{0}, std::byte{1}, std::byte{2}});
    check_error([&] { Namelist::load(binary); }, ErrorKind::format,
                binary + ": not a kernel namelist (neither an ELF kernel nor a System.map or /proc/kallsyms list)");
}
