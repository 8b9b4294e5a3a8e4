#!/bin/sh
# Rspamd's language files into TARGET with the n-gram tables of every language but English
# emptied; every language keeps its stop words. Rspamd 3.4 names the language of a text with no
# stop words from the n-grams of words it picks at random, and a learn's tokens (stemmed for that
# language) and its learn-cache key depend on it: the same message learned twice could be two
# messages to it, and "not spam" would not unlearn the spam. With English the only n-gram
# candidate such a text is English every time. Use with, in $LOCAL_CONFDIR/rspamd.conf.local:
#   lang_detection { languages = "TARGET"; }
# docs/detection.md, "Learning". Usage: rspamd-languages TARGET [STOCK, default /usr/share/rspamd/languages]
set -eu
target=$1
stock=${2:-/usr/share/rspamd/languages}
mkdir -p "$target"
cp "$stock/stop_words" "$target/"
perl -MJSON::PP -e '
  my ($stock, $target) = @ARGV;
  for my $file (glob "$stock/*.json") {
    open my $in, "<", $file or die "$file: $!";
    my $language = decode_json(do { local $/; <$in> });
    my ($name) = $file =~ m{([^/]+)$};
    $language->{freq} = {} unless $name eq "en.json";
    open my $out, ">", "$target/$name" or die "$target/$name: $!";
    print $out encode_json($language);
    close $out or die "$target/$name: $!";
  }' "$stock" "$target"
